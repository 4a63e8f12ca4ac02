package authz

import "strings"

// bearer is the RFC 6750 authentication scheme; it is matched
// case-insensitively (RFC 9110 §11.1).
const bearer = "bearer"

// ParseCredential extracts the API key from the values of the x-api-key
// and Authorization headers ("" when absent). x-api-key wins; otherwise the
// key comes from "Authorization: Bearer <key>".
//
// It returns [ErrMissing] when neither header carries a credential and
// [ErrMalformed] when one does but it is not shaped like a modelgate key:
// another scheme such as Basic without an x-api-key, an empty token, extra
// words, duplicate headers joined by a comma, or an x-api-key and a Bearer
// token that disagree. It does not check that the key exists; that is
// [Store.Authenticate]'s job.
func ParseCredential(apiKey, authorization string) (string, error) {
	apiKey = strings.Trim(apiKey, " \t")
	authorization = strings.Trim(authorization, " \t")

	var token string
	hasBearer := false
	if authorization != "" {
		scheme, rest, _ := strings.Cut(authorization, " ")
		if strings.EqualFold(scheme, bearer) {
			hasBearer = true
			token = strings.TrimLeft(rest, " ")
		} else if apiKey == "" {
			// Another scheme (Basic, Digest, ...) is not ours. With an
			// x-api-key present it may belong to someone else; ignore it.
			return "", ErrMalformed
		}
	}

	key := apiKey
	switch {
	case apiKey != "" && hasBearer && token != apiKey:
		return "", ErrMalformed
	case apiKey == "" && hasBearer:
		key = token
	case apiKey == "":
		return "", ErrMissing
	}
	if _, _, ok := splitKey(key); !ok {
		return "", ErrMalformed
	}
	return key, nil
}
