package webhook_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/inference/internal/webhook"
)

// The test vector of the Standard Webhooks reference libraries.
const (
	vectorSecret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID      = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTS      = 1614265330
	vectorBody    = `{"test": 2432232314}`
	vectorSigned  = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	vectorTSValue = "1614265330"
)

func TestSign_specVector(t *testing.T) {
	t.Parallel()
	s, err := webhook.ParseSecret(vectorSecret)
	require.NoError(t, err)
	require.Equal(t, vectorSigned, webhook.Sign([]webhook.Secret{s}, vectorID, time.Unix(vectorTS, 0), []byte(vectorBody)))
	require.Equal(t, vectorSecret, s.String())
}

func TestVerify(t *testing.T) {
	t.Parallel()
	s, err := webhook.ParseSecret(vectorSecret)
	require.NoError(t, err)
	other := webhook.Secret(make([]byte, 32))
	now := time.Unix(vectorTS, 0)
	tol := 5 * time.Minute
	tests := []struct {
		name      string
		body, sig string
		now       time.Time
		wantErr   error
	}{
		{name: "accepts the vector", body: vectorBody, sig: vectorSigned, now: now},
		{name: "accepts either of two signatures", body: vectorBody,
			sig: webhook.Sign([]webhook.Secret{other, s}, vectorID, now, []byte(vectorBody)), now: now},
		{name: "rejects a tampered body", body: `{"test": 2432232315}`, sig: vectorSigned, now: now, wantErr: webhook.ErrNoSignature},
		{name: "rejects a stale timestamp", body: vectorBody, sig: vectorSigned, now: now.Add(10 * time.Minute), wantErr: webhook.ErrTimestamp},
		{name: "rejects another secret's signature", body: vectorBody,
			sig: webhook.Sign([]webhook.Secret{other}, vectorID, now, []byte(vectorBody)), now: now, wantErr: webhook.ErrNoSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.Verify(s, vectorID, vectorTSValue, tt.sig, []byte(tt.body), tt.now, tol)
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
}

func TestParseSecret(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!", "whsec_c2hvcnQ="} {
		_, err := webhook.ParseSecret(s)
		require.Error(t, err, s)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add(vectorID, vectorTSValue, vectorSigned, []byte(vectorBody))
	f.Add("", "x", "v1,", []byte{})
	s, _ := webhook.ParseSecret(vectorSecret)
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		_ = webhook.Verify(s, id, ts, sig, body, time.Unix(vectorTS, 0), time.Minute)
	})
}
