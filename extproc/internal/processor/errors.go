package processor

import "fmt"

// ForbiddenError reports an API key that may not use a model.
type ForbiddenError struct {
	KeyID, Model string
}

func (e *ForbiddenError) Error() string {
	if e.KeyID == "" {
		return fmt.Sprintf("the request carries no authenticated API key, which model %q requires", e.Model)
	}
	return fmt.Sprintf("API key %s may not use model %q", e.KeyID, e.Model)
}

// checkScope returns a *ForbiddenError unless the request's key may use
// its target model.
func (d *Deps) checkScope(r *Request) error {
	if d.Scopes == nil || d.Scopes.Allows(r.KeyID, r.Target.Model) {
		return nil
	}
	return &ForbiddenError{KeyID: r.KeyID, Model: r.Target.Model}
}
