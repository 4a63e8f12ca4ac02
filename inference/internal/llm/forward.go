package llm

import (
	"context"
	"math"
	"math/rand/v2"
)

// block is how many prompt tokens one forward pass evaluates together:
// each weight row is then read from memory once per block instead of once
// per token (the weights, 5 MB, do not fit a core's cache); 32 tokens of
// activations fit in L2. The scalar arithmetic, not memory, is what bounds
// both paths on the machines measured, so the gain is modest.
const block = 32

// state is everything one sequence needs while it is generated: the KV
// cache for the whole context and every scratch vector of the forward pass
// and the sampler. It is allocated once and reused through the model's
// pool, so generating a token allocates nothing.
type state struct {
	// keys and vals are [layers][ctx][dim]: position p of layer l starts at
	// (l*ctx + p) * dim.
	keys, vals []float32
	// x, h, q and attn are [block][dim]: the residual stream, its
	// normalised copy, the queries and the heads' outputs side by side, one
	// row per token of the block.
	x, h, q, attn []float32
	gate, up      []float32 // [block][hidden]
	scores        []float32 // [ctx]
	logits        []float32 // [vocab]
	// probs and order are the sampler's scratch: probabilities and the
	// candidate ids sorted by them.
	probs  []float64
	order  []int32
	tokens []int32  // prompt token ids
	one    [1]int32 // step's block of one token
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
		x:      make([]float32, block*c.dim),
		h:      make([]float32, block*c.dim),
		q:      make([]float32, block*c.dim),
		attn:   make([]float32, block*c.dim),
		gate:   make([]float32, block*c.hidden),
		up:     make([]float32, block*c.hidden),
		scores: make([]float32, c.ctx),
		logits: make([]float32, c.vocab),
		probs:  make([]float64, c.vocab),
		order:  make([]int32, c.vocab),
		tokens: make([]int32, 0, c.ctx),
		pcg:    pcg,
		rng:    rand.New(pcg),
	}
}

// prefill runs the prompt tokens (positions 0 to len-1) through the model
// block by block and leaves the next-token scores in s.logits. Every
// number is computed exactly as step computes it, token by token, so the
// result does not depend on the block size.
func (m *Model) prefill(ctx context.Context, s *state, tokens []int32) error {
	for start := 0; start < len(tokens); start += block {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(len(tokens), start+block)
		m.forward(s, tokens[start:end], start, end == len(tokens))
	}
	return nil
}

// step runs token tok at position pos through the model, appending its key
// and value to the cache, and computes s.logits, the next-token scores.
func (m *Model) step(s *state, tok int32, pos int) {
	s.one[0] = tok
	m.forward(s, s.one[:], pos, true)
}

// forward runs len(toks) <= block consecutive tokens, the first at
// position pos, appending their keys and values to the cache. With logits
// set it computes s.logits for the last of them.
func (m *Model) forward(s *state, toks []int32, pos int, logits bool) {
	c := m.cfg
	d, hid, n := c.dim, c.hidden, len(toks)
	hd := d / c.heads
	half := hd / 2
	x, h, q, attn := s.x[:n*d], s.h[:n*d], s.q[:n*d], s.attn[:n*d]
	gate, up := s.gate[:n*hid], s.up[:n*hid]
	for t, tok := range toks {
		copy(x[t*d:(t+1)*d], m.embed[int(tok)*d:(int(tok)+1)*d])
	}
	scale := float32(1 / math.Sqrt(float64(hd)))
	for li := range m.layers {
		l := &m.layers[li]
		base := li * c.ctx * d
		keys := s.keys[base+pos*d : base+(pos+n)*d]
		vals := s.vals[base+pos*d : base+(pos+n)*d]
		rmsNorms(h, x, l.attnNorm, c.eps)
		matMat(q, l.wq, h, n)
		matMat(keys, l.wk, h, n)
		matMat(vals, l.wv, h, n)
		for t := range n {
			p := pos + t
			cos, sin := m.cos[p*half:(p+1)*half], m.sin[p*half:(p+1)*half]
			for hi := 0; hi < c.heads; hi++ {
				rope(q[t*d+hi*hd:t*d+(hi+1)*hd], cos, sin)
				rope(keys[t*d+hi*hd:t*d+(hi+1)*hd], cos, sin)
			}
		}
		for t := range n {
			// Causal: token t sees the cache up to its own position, the
			// block's earlier tokens included.
			for hi := 0; hi < c.heads; hi++ {
				o := t*d + hi*hd
				attend(attn[o:o+hd], q[o:o+hd], s.keys[base+hi*hd:], s.vals[base+hi*hd:],
					s.scores[:pos+t+1], d, scale)
			}
		}
		matMatAdd(x, l.wo, attn, n)
		rmsNorms(h, x, l.mlpNorm, c.eps)
		matMat(gate, l.gate, h, n)
		matMat(up, l.up, h, n)
		swiGLU(gate, up)
		matMatAdd(x, l.down, gate, n)
	}
	if !logits {
		return
	}
	last := x[(n-1)*d:]
	rmsNorm(h[:d], last, m.finalNorm, c.eps)
	matVec(s.logits, m.embed, h[:d])
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

// rmsNorms applies rmsNorm to every row of x (rows of len(w)).
//
//go:norace
func rmsNorms(dst, x, w []float32, eps float64) {
	d := len(w)
	for t := 0; t+d <= len(x); t += d {
		rmsNorm(dst[t:t+d], x[t:t+d], w, eps)
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

// matMat sets row t of dst to W x_t for each of the n rows x_t of x (W is
// [out][in], x [n][in], dst [n][out]). Each weight row is loaded once for
// all n tokens; every output is the same dot that matVec computes.
//
//go:norace
func matMat(dst, w, x []float32, n int) {
	in, out := len(x)/n, len(dst)/n
	for i := range out {
		row := w[i*in : (i+1)*in]
		for t := range n {
			dst[t*out+i] = dot(row, x[t*in:(t+1)*in])
		}
	}
}

// matMatAdd adds W x_t to row t of dst (the residual connections).
//
//go:norace
func matMatAdd(dst, w, x []float32, n int) {
	in, out := len(x)/n, len(dst)/n
	for i := range out {
		row := w[i*in : (i+1)*in]
		for t := range n {
			dst[t*out+i] += dot(row, x[t*in:(t+1)*in])
		}
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
