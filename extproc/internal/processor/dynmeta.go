package processor

import (
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// DynamicMetadata collects the dynamic metadata of a ProcessingResponse.
// Envoy files each top-level member of ProcessingResponse.dynamic_metadata
// under the namespace it names, where later filters read it (a ratelimit
// filter's metadata descriptors or hits_addend, access logs), so values
// are set per namespace and key. The zero value is empty and ready.
type DynamicMetadata struct {
	ns map[string]map[string]*structpb.Value
}

// Set sets key of namespace to v, replacing an earlier value.
func (d *DynamicMetadata) Set(namespace, key string, v *structpb.Value) {
	if d.ns == nil {
		d.ns = map[string]map[string]*structpb.Value{}
	}
	fields := d.ns[namespace]
	if fields == nil {
		fields = map[string]*structpb.Value{}
		d.ns[namespace] = fields
	}
	fields[key] = v
}

// SetString sets key of namespace to a string.
func (d *DynamicMetadata) SetString(namespace, key, v string) {
	d.Set(namespace, key, structpb.NewStringValue(v))
}

// SetNumber sets key of namespace to a number. Struct numbers are
// float64, exact for integers up to 2^53 (token counts included).
func (d *DynamicMetadata) SetNumber(namespace, key string, v float64) {
	d.Set(namespace, key, structpb.NewNumberValue(v))
}

// Proto returns the metadata as Envoy expects it (namespace → struct of
// fields), nil when nothing was set.
func (d *DynamicMetadata) Proto() *structpb.Struct {
	if len(d.ns) == 0 {
		return nil
	}
	out := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(d.ns))}
	for name, fields := range d.ns {
		s := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(fields))}
		for k, v := range fields {
			s.Fields[k] = v
		}
		out.Fields[name] = structpb.NewStructValue(s)
	}
	return out
}

// AddTo puts the metadata on resp, merging it with metadata resp already
// carries (a namespace set here replaces keys of the same name there).
// With nothing set, resp is unchanged.
func (d *DynamicMetadata) AddTo(resp *extprocv3.ProcessingResponse) {
	md := d.Proto()
	if md == nil {
		return
	}
	if resp.DynamicMetadata == nil {
		resp.DynamicMetadata = md
		return
	}
	for name, v := range md.GetFields() {
		have := resp.DynamicMetadata.GetFields()[name].GetStructValue()
		if have == nil {
			if resp.DynamicMetadata.Fields == nil {
				resp.DynamicMetadata.Fields = map[string]*structpb.Value{}
			}
			resp.DynamicMetadata.Fields[name] = v
			continue
		}
		if have.Fields == nil {
			have.Fields = map[string]*structpb.Value{}
		}
		for k, fv := range v.GetStructValue().GetFields() {
			have.Fields[k] = fv
		}
	}
}
