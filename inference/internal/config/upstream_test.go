package config

import (
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLoad_upstream(t *testing.T) {
	t.Parallel()
	c, err := Load(nil, env(nil), io.Discard)
	require.NoError(t, err)
	require.Empty(t, c.UpstreamAllow, "private addresses are refused unless the operator allows them")
	require.Equal(t, 5*time.Minute, c.UpstreamTimeout)
	require.Equal(t, int64(16<<20), c.UpstreamMaxResponseBytes)

	c, err = Load([]string{"--upstream-allow", " 127.0.0.0/8, ::1 ,10.1.2.3"}, env(nil), io.Discard)
	require.NoError(t, err)
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.1.2.3/32")}, c.UpstreamAllow)

	_, err = Load([]string{"--upstream-allow", "nope", "--upstream-timeout", "0s", "--upstream-max-response-bytes", "x"}, env(nil), io.Discard)
	require.ErrorContains(t, err, "upstream-allow:")
	require.ErrorContains(t, err, "upstream-timeout:")
	require.ErrorContains(t, err, "upstream-max-response-bytes:")
}
