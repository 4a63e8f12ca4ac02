package scoring

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/modelgate/modelgate/api/oip"
	"github.com/modelgate/modelgate/api/predict"
	"github.com/modelgate/modelgate/inference/internal/registry"
)

// OIP tensor names.
const (
	inMatrix         = "input"
	outLabel         = "label"
	outProbabilities = "probabilities"
	outValue         = "value"
)

// V1Predictions renders the batch as the /v1/predict predictions: a class
// label per row for a classifier, a number for a regressor.
func (b *Batch) V1Predictions() []any {
	out := make([]any, b.n)
	for i := range b.n {
		if b.Version.Classification() {
			out[i] = b.Label(i)
		} else {
			out[i] = b.Output(i)[0]
		}
	}
	return out
}

// V2Predictions renders the batch as the /v2/predict predictions, with
// per-class probabilities when asked for.
func (b *Batch) V2Predictions(opts predict.V2Options) []predict.Prediction {
	out := make([]predict.Prediction, b.n)
	if !b.Version.Classification() {
		values := make([]float64, b.n)
		for i := range b.n {
			values[i] = b.Output(i)[0]
			out[i].Value = &values[i]
		}
		return out
	}
	classes := b.Version.Manifest.Output.Classes
	for i := range b.n {
		row := b.Output(i)
		out[i].Label = classes[argmax(row)]
		if opts.ReturnProbabilities {
			p := make(map[string]float64, len(classes))
			for c, name := range classes {
				p[name] = row[c]
			}
			out[i].Probabilities = p
		}
	}
	return out
}

// OIPOutputs renders the batch as OIP output tensors, those the request
// asked for or all. The probabilities and value tensors share the batch's
// buffer: write them out before Release.
func (b *Batch) OIPOutputs() []oip.OutputTensor {
	v, n := b.Version, int64(b.n)
	want := func(name string) bool { return b.wanted == nil || b.wanted[name] }
	var outs []oip.OutputTensor
	if !v.Classification() {
		if want(outValue) {
			outs = append(outs, oip.OutputTensor{Name: outValue, Datatype: oip.FP64, Shape: []int64{n}, Data: b.out})
		}
		return outs
	}
	if want(outLabel) {
		labels := make([]string, b.n)
		for i := range b.n {
			labels[i] = b.Label(i)
		}
		outs = append(outs, oip.OutputTensor{Name: outLabel, Datatype: oip.BYTES, Shape: []int64{n}, Data: labels})
	}
	if want(outProbabilities) {
		k := int64(v.Engine.NumOutputs())
		outs = append(outs, oip.OutputTensor{
			Name: outProbabilities, Datatype: oip.FP64, Shape: []int64{n, k}, Data: b.out,
			Parameters: map[string]any{"classes": v.Manifest.Output.Classes},
		})
	}
	return outs
}

// requestedOutputs checks the outputs a request names; nil means all.
func requestedOutputs(v *registry.Version, req []oip.RequestedOutput) (map[string]bool, violations) {
	if len(req) == 0 {
		return nil, nil
	}
	avail := outputNames(v)
	wanted := map[string]bool{}
	var vs violations
	for i, o := range req {
		if !slices.Contains(avail, o.Name) {
			vs.add("/outputs/"+strconv.Itoa(i)+"/name", fmt.Sprintf("unknown output %q (available: %v)", o.Name, avail))
			continue
		}
		wanted[o.Name] = true
	}
	return wanted, vs
}

func outputNames(v *registry.Version) []string {
	if v.Classification() {
		return []string{outLabel, outProbabilities}
	}
	return []string{outValue}
}

// TensorMeta describes the tensors a version takes and gives, for the OIP
// model metadata answer.
func TensorMeta(v *registry.Version) (inputs, outputs []oip.TensorMeta) {
	inputs = []oip.TensorMeta{{Name: inMatrix, Datatype: oip.FP64, Shape: []int64{-1, int64(len(v.Manifest.Inputs))}}}
	if v.Classification() {
		return inputs, []oip.TensorMeta{
			{Name: outLabel, Datatype: oip.BYTES, Shape: []int64{-1}},
			{Name: outProbabilities, Datatype: oip.FP64, Shape: []int64{-1, int64(len(v.Manifest.Output.Classes))}},
		}
	}
	return inputs, []oip.TensorMeta{{Name: outValue, Datatype: oip.FP64, Shape: []int64{-1}}}
}
