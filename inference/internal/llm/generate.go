package llm

import (
	"context"
)

// Generate implements [Generator.Generate]. The prompt is built by the
// chat template and truncated as [Model.CountPromptTokens] describes; ctx
// is checked before every block of prompt tokens and every completion
// token. Result.CompletionTokens counts every sampled token, the
// end-of-text id and the bytes of a matched stop string included, since
// all of them were computed.
func (m *Model) Generate(ctx context.Context, req Request, emit func(text string) error) (Result, error) {
	s := m.states.Get().(*state)
	defer func() {
		s.stop.reset(nil) // drop the request's stop strings
		m.states.Put(s)
	}()
	var res Result
	n, err := promptLen(req)
	if err != nil {
		return res, err
	}
	// At most promptRoom <= context length tokens: the state's buffer
	// never grows.
	tokens, err := appendPrompt(s.tokens[:0], req, max(0, n-m.promptRoom(req.Params)))
	if err != nil {
		return res, err
	}
	res.PromptTokens = len(tokens)
	limit := m.maxTokens(req.Params)
	s.seed(req.Params)
	s.stop.reset(req.Params.Stop)

	if err := m.prefill(ctx, s, tokens); err != nil {
		return res, err
	}
	pos := len(tokens)
	res.Finish = FinishLength
	for res.CompletionTokens < limit {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		tok := s.sample(req.Params)
		res.CompletionTokens++
		if tok == EndOfText || tok > 255 {
			res.Finish = FinishStop
			break
		}
		text, stopped := s.stop.push(byte(tok))
		if len(text) > 0 {
			if err := emit(string(text)); err != nil {
				return res, err
			}
		}
		if stopped {
			res.Finish = FinishStop
			return res, nil
		}
		if pos+1 >= m.cfg.ctx {
			// Only when max_tokens reaches the whole window: prompt and
			// completion fill the context, so the completion ends here.
			break
		}
		if res.CompletionTokens < limit {
			m.step(s, tok, pos)
			pos++
		}
	}
	if text := s.stop.flush(); len(text) > 0 {
		if err := emit(string(text)); err != nil {
			return res, err
		}
	}
	return res, nil
}
