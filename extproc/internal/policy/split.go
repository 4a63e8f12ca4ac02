package policy

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Decode parses a JSON body as the schema validator reads it (numbers as
// json.Number). A body that is not JSON is a *MalformedError.
func (v *Validator) Decode(body []byte) (any, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return nil, &MalformedError{Err: err}
	}
	return doc, nil
}

// Check validates a decoded body against the named schema; violations are
// a *ViolationsError.
func (v *Validator) Check(schema string, doc any) error {
	s, ok := v.schemas[schema]
	if !ok {
		return fmt.Errorf("schema %q was not compiled", schema)
	}
	if err := s.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return fmt.Errorf("validate: %w", err)
		}
		return &ViolationsError{Violations: v.violations(ve)}
	}
	return nil
}
