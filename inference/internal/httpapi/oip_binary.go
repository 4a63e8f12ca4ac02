package httpapi

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/http"
	"strconv"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/oip"
	"github.com/modelgate/modelgate/api/problem"
)

// readInferBody reads an infer request: plain JSON, or a JSON header plus
// binary tensor data (the extension Triton's clients use by default; see
// [oip.SplitBinary]). OIP clients may omit the content type, so only an
// explicit non-JSON type (other than octet-stream with the binary header) is
// refused.
func readInferBody(w http.ResponseWriter, r *http.Request, limit int64) (jsonPart, binPart []byte, err error) {
	ct := r.Header.Get(header.ContentType)
	hdrLen := r.Header.Get(header.InferenceHeaderContentLength)
	if ct != "" {
		mt, _, perr := mime.ParseMediaType(ct)
		okType := perr == nil && (header.IsJSON(mt) || (mt == header.MediaOctetStream && hdrLen != ""))
		if !okType {
			return nil, nil, &problem.Problem{
				Type: problem.TypeUnsupportedMediaType, Status: http.StatusUnsupportedMediaType, Title: "Unsupported media type",
				Detail: fmt.Sprintf("content-type %q is not supported; send application/json (or octet-stream with %s)", ct, header.InferenceHeaderContentLength),
			}
		}
	}
	body, err := readBody(w, r, limit)
	if err != nil {
		return nil, nil, err
	}
	if hdrLen == "" {
		return body, nil, nil
	}
	return oip.SplitBinary(body, hdrLen)
}

// wantsBinary decides whether an output goes out as binary data: the
// output's own binary_data parameter wins over the request's
// binary_data_output.
func wantsBinary(req *oip.InferRequest, name string) bool {
	for _, o := range req.Outputs {
		if o.Name == name {
			if b, ok := o.Parameters[oip.ParamBinaryData].(bool); ok {
				return b
			}
		}
	}
	b, _ := req.Parameters[oip.ParamBinaryDataOutput].(bool)
	return b
}

// encodeBinaryOutput renders a tensor's data as the extension's bytes:
// little-endian FP64, or BYTES elements each prefixed by a 4-byte length.
func encodeBinaryOutput(t oip.OutputTensor) []byte {
	var buf bytes.Buffer
	switch d := t.Data.(type) {
	case []float64:
		b := make([]byte, 8*len(d))
		for i, f := range d {
			binary.LittleEndian.PutUint64(b[i*8:], math.Float64bits(f))
		}
		buf.Write(b)
	case []string:
		for _, s := range d {
			var l [4]byte
			binary.LittleEndian.PutUint32(l[:], uint32(len(s)))
			buf.Write(l[:])
			buf.WriteString(s)
		}
	}
	return buf.Bytes()
}

// writeInferResponse writes JSON, or the binary form when any output asks
// for it.
func writeInferResponse(w http.ResponseWriter, req *oip.InferRequest, resp *oip.InferResponse) error {
	var blobs [][]byte
	for i := range resp.Outputs {
		o := &resp.Outputs[i]
		if !wantsBinary(req, o.Name) {
			continue
		}
		b := encodeBinaryOutput(*o)
		blobs = append(blobs, b)
		if o.Parameters == nil {
			o.Parameters = map[string]any{}
		}
		o.Parameters[oip.ParamBinaryDataSize] = len(b)
		o.Data = nil
	}
	if len(blobs) == 0 {
		return writeJSON(w, http.StatusOK, resp)
	}
	head, err := json.Marshal(resp)
	if err != nil {
		return fmt.Errorf("encode answer head: %w", err)
	}
	w.Header().Set(header.ContentType, header.MediaOctetStream)
	w.Header().Set(header.InferenceHeaderContentLength, strconv.Itoa(len(head)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(head)
	for _, b := range blobs {
		_, _ = w.Write(b)
	}
	return nil
}
