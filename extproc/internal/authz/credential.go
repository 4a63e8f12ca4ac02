package authz

import "strings"

// bearer is the RFC 6750 authentication scheme; it is matched
// case-insensitively (RFC 9110 §11.1).
const bearer = "bearer"

// ParseCredential extracts the API key from the values of the x-api-key
// and Authorization headers ("" when absent).
//
// One rule covers every combination: each header that is present is a
// credential and must carry a well-shaped modelgate key (x-api-key: <key>,
// Authorization: Bearer <key>), and when both are present they must carry
// the same key. So an Authorization header is judged the same way whether
// or not an x-api-key comes with it, whatever its scheme: Basic, Digest, a
// bare key, an empty or multi-word Bearer token, or a Bearer key other than
// the x-api-key are all refused.
//
// It returns [ErrMissing] when neither header carries anything and
// [ErrMalformed] when the rule is broken (duplicate headers joined by a
// comma included). It does not check that the key exists; that is
// [Store.Authenticate]'s job.
func ParseCredential(apiKey, authorization string) (string, error) {
	apiKey = strings.Trim(apiKey, " \t")
	authorization = strings.Trim(authorization, " \t")
	if apiKey == "" && authorization == "" {
		return "", ErrMissing
	}
	key := apiKey
	if authorization != "" {
		token, ok := bearerToken(authorization)
		if !ok || (apiKey != "" && token != apiKey) {
			return "", ErrMalformed
		}
		key = token
	}
	if _, _, ok := splitKey(key); !ok {
		return "", ErrMalformed
	}
	return key, nil
}

// bearerToken returns the token of an "Bearer <token>" Authorization
// value; ok is false for any other scheme or an empty token.
func bearerToken(authorization string) (token string, ok bool) {
	scheme, rest, _ := strings.Cut(authorization, " ")
	if !strings.EqualFold(scheme, bearer) {
		return "", false
	}
	token = strings.TrimLeft(rest, " ")
	return token, token != ""
}
