package llm

import (
	"math"
	"math/rand/v2"
)

// state is everything one sequence needs while it is generated: the KV
// cache for the whole context and every scratch vector of the forward pass
// and the sampler. It is allocated once and reused through the model's
// pool, so generating a token allocates nothing.
type state struct {
	// keys and vals are [layers][ctx][dim]: position p of layer l starts at
	// (l*ctx + p) * dim.
	keys, vals []float32
	x, h, q    []float32 // [dim]
	attn       []float32 // [dim], the heads' outputs side by side
	gate, up   []float32 // [hidden]
	scores     []float32 // [ctx]
	logits     []float32 // [vocab]
	// probs and order are the sampler's scratch: probabilities and the
	// candidate ids sorted by them.
	probs  []float64
	order  []int32
	tokens []int32 // prompt token ids
	pcg    *rand.PCG
	rng    *rand.Rand
	stop   stopper
}

func (m *Model) newState() *state {
	c := m.cfg
	pcg := rand.NewPCG(0, 0)
	return &state{
		keys:   make([]float32, c.layers*c.ctx*c.dim),
		vals:   make([]float32, c.layers*c.ctx*c.dim),
		x:      make([]float32, c.dim),
		h:      make([]float32, c.dim),
		q:      make([]float32, c.dim),
		attn:   make([]float32, c.dim),
		gate:   make([]float32, c.hidden),
		up:     make([]float32, c.hidden),
		scores: make([]float32, c.ctx),
		logits: make([]float32, c.vocab),
		probs:  make([]float64, c.vocab),
		order:  make([]int32, c.vocab),
		tokens: make([]int32, 0, c.ctx),
		pcg:    pcg,
		rng:    rand.New(pcg),
	}
}

// step runs token tok at position pos through the model, appending its key
// and value to the cache. With logits set it also computes s.logits, the
// next-token scores (prefill skips them for all but the last prompt token).
func (m *Model) step(s *state, tok int32, pos int, logits bool) {
	c := m.cfg
	d := c.dim
	hd := d / c.heads
	half := hd / 2
	copy(s.x, m.embed[int(tok)*d:(int(tok)+1)*d])
	cos := m.cos[pos*half : (pos+1)*half]
	sin := m.sin[pos*half : (pos+1)*half]
	scale := float32(1 / math.Sqrt(float64(hd)))
	for li := range m.layers {
		l := &m.layers[li]
		rmsNorm(s.h, s.x, l.attnNorm, c.eps)
		base := li * c.ctx * d
		k := s.keys[base+pos*d : base+(pos+1)*d]
		v := s.vals[base+pos*d : base+(pos+1)*d]
		matVec(s.q, l.wq, s.h)
		matVec(k, l.wk, s.h)
		matVec(v, l.wv, s.h)
		for hi := 0; hi < c.heads; hi++ {
			rope(s.q[hi*hd:(hi+1)*hd], cos, sin)
			rope(k[hi*hd:(hi+1)*hd], cos, sin)
		}
		for hi := 0; hi < c.heads; hi++ {
			attend(s.attn[hi*hd:(hi+1)*hd], s.q[hi*hd:(hi+1)*hd], s.keys[base+hi*hd:], s.vals[base+hi*hd:],
				s.scores[:pos+1], d, scale)
		}
		matVecAdd(s.x, l.wo, s.attn)
		rmsNorm(s.h, s.x, l.mlpNorm, c.eps)
		matVec(s.gate, l.gate, s.h)
		matVec(s.up, l.up, s.h)
		swiGLU(s.gate, s.up)
		matVecAdd(s.x, l.down, s.gate)
	}
	if !logits {
		return
	}
	rmsNorm(s.h, s.x, m.finalNorm, c.eps)
	matVec(s.logits, m.embed, s.h)
}

// The arithmetic kernels below are marked go:norace: they only touch the
// read-only weights and one sequence's own state, and instrumenting every
// float access makes `go test -race` some fifty times slower. Sharing of
// states between goroutines, where a race could happen, stays checked in
// Generate and the pool.

// attend computes one head's attention output into out: softmax over the
// scaled scores of q against the cached keys of every position so far
// (len(scores) of them), then the weighted sum of the cached values. keys
// and vals start at this layer and head; positions are stride apart.
//
//go:norace
func attend(out, q, keys, vals, scores []float32, stride int, scale float32) {
	hd := len(q)
	maxv := float32(math.Inf(-1))
	for t := range scores {
		off := t * stride
		scores[t] = dot(q, keys[off:off+hd]) * scale
		maxv = max(maxv, scores[t])
	}
	var sum float32
	for t := range scores {
		e := float32(math.Exp(float64(scores[t] - maxv)))
		scores[t] = e
		sum += e
	}
	clear(out)
	inv := 1 / sum
	for t, p := range scores {
		off := t * stride
		axpy(out, p*inv, vals[off:off+hd])
	}
}

// swiGLU sets gate = silu(gate) * up.
//
//go:norace
func swiGLU(gate, up []float32) {
	up = up[:len(gate)]
	for i, g := range gate {
		gate[i] = g / (1 + float32(math.Exp(float64(-g)))) * up[i]
	}
}

// rmsNorm sets dst = x / sqrt(mean(x^2) + eps) * w.
//
//go:norace
func rmsNorm(dst, x, w []float32, eps float64) {
	var ss float32
	for _, v := range x {
		ss += v * v
	}
	r := float32(1 / math.Sqrt(float64(ss/float32(len(x)))+eps))
	w = w[:len(x)]
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = v * r * w[i]
	}
}

// rope rotates one head's vector in place: element k pairs with element
// k+half, rotated by the position's angle for frequency k.
//
//go:norace
func rope(x, cos, sin []float32) {
	half := len(x) / 2
	a, b := x[:half], x[half:2*half]
	cos, sin = cos[:half], sin[:half]
	for k := range a {
		x1, x2 := a[k], b[k]
		a[k] = x1*cos[k] - x2*sin[k]
		b[k] = x2*cos[k] + x1*sin[k]
	}
}

// matVec sets dst = W x for W stored [len(dst)][len(x)] row-major.
//
//go:norace
func matVec(dst, w, x []float32) {
	n := len(x)
	for i := range dst {
		dst[i] = dot(w[i*n:(i+1)*n], x)
	}
}

// matVecAdd adds W x to dst (the residual connections).
//
//go:norace
func matVecAdd(dst, w, x []float32) {
	n := len(x)
	for i := range dst {
		dst[i] += dot(w[i*n:(i+1)*n], x)
	}
}

// dot is the inner product of a and b (len(a) == len(b)), with four
// running sums so the loop is not one long dependency chain.
//
//go:norace
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy adds a*x to dst.
//
//go:norace
func axpy(dst []float32, a float32, x []float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += a * x[i]
	}
}
