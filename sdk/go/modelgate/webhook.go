package modelgate

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultWebhookTolerance is how far webhook-timestamp may be from now, either way.
const DefaultWebhookTolerance = 5 * time.Minute

// ErrWebhookVerification is wrapped by every refusal of [VerifyWebhook].
var ErrWebhookVerification = errors.New("modelgate: webhook verification failed")

func webhookKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return nil, fmt.Errorf("%w: secret is not base64 (whsec_...)", ErrWebhookVerification)
	}
	return key, nil
}

// SignWebhook returns the "v1,<signature>" entry of one message (for tests of receivers).
func SignWebhook(msgID string, ts int64, body []byte, secret string) (string, error) {
	key, err := webhookKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", msgID, ts)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// VerifyWebhook checks a Standard Webhooks delivery: body must be the raw
// bytes received, secret the endpoint's whsec_ secret. Any v1 signature
// may match (secret rotation). The timestamp must be within tolerance of
// now (zero tolerance means [DefaultWebhookTolerance]). Deduplicate on
// webhook-id: it is the same on every retry.
func VerifyWebhook(body []byte, h http.Header, secret string, now time.Time, tolerance time.Duration) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("%w: missing webhook-id, webhook-timestamp or webhook-signature", ErrWebhookVerification)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: webhook-timestamp is not an integer", ErrWebhookVerification)
	}
	if tolerance == 0 {
		tolerance = DefaultWebhookTolerance
	}
	if skew := now.Sub(time.Unix(sec, 0)); math.Abs(float64(skew)) > float64(tolerance) {
		return fmt.Errorf("%w: timestamp outside the tolerance", ErrWebhookVerification)
	}
	want, err := SignWebhook(id, sec, body, secret)
	if err != nil {
		return err
	}
	for _, entry := range strings.Fields(sigs) {
		if strings.HasPrefix(entry, "v1,") && hmac.Equal([]byte(entry), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("%w: no matching signature", ErrWebhookVerification)
}
