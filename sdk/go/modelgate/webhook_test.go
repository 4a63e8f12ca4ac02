package modelgate_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/sdk/go/modelgate"
)

// The Standard Webhooks spec's example; the signature is what the
// standardwebhooks 1.1.0 package from PyPI computes for it.
const (
	vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTS     = 1614265330
	vectorBody   = `{"test": 2432232314}`
	vectorSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func vectorHeaders(sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", vectorID)
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", sig)
	return h
}

func TestVerifyWebhook(t *testing.T) {
	t.Parallel()
	at := time.Unix(vectorTS, 0)
	sig, err := modelgate.SignWebhook(vectorID, vectorTS, []byte(vectorBody), vectorSecret)
	require.NoError(t, err)
	require.Equal(t, vectorSig, sig)
	tests := []struct {
		name    string
		body    string
		h       http.Header
		now     time.Time
		wantErr bool
	}{
		{name: "accepts the reference signature", body: vectorBody, h: vectorHeaders(vectorSig), now: at},
		{name: "accepts one of several signatures", body: vectorBody, h: vectorHeaders("v1,bm9wZQ== " + vectorSig), now: at},
		{name: "refuses a tampered body", body: `{"test": 2432232315}`, h: vectorHeaders(vectorSig), now: at, wantErr: true},
		{name: "refuses another scheme", body: vectorBody, h: vectorHeaders("v1a" + vectorSig[2:]), now: at, wantErr: true},
		{name: "refuses a stale timestamp", body: vectorBody, h: vectorHeaders(vectorSig), now: at.Add(6 * time.Minute), wantErr: true},
		{name: "refuses a future timestamp", body: vectorBody, h: vectorHeaders(vectorSig), now: at.Add(-6 * time.Minute), wantErr: true},
		{name: "refuses missing headers", body: vectorBody, h: http.Header{}, now: at, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := modelgate.VerifyWebhook([]byte(tt.body), tt.h, vectorSecret, tt.now, 0)
			if tt.wantErr {
				require.ErrorIs(t, err, modelgate.ErrWebhookVerification)
				return
			}
			require.NoError(t, err)
		})
	}
}

func FuzzVerifyWebhook(f *testing.F) {
	f.Add([]byte(vectorBody), vectorSig, "1614265330")
	f.Fuzz(func(t *testing.T, body []byte, sig, ts string) {
		h := http.Header{}
		h.Set("webhook-id", vectorID)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)
		_ = modelgate.VerifyWebhook(body, h, vectorSecret, time.Unix(vectorTS, 0), 0)
	})
}
