package jobs

import "github.com/redis/go-redis/v9"

// The scripts keep every key of one call under the same hash tag (see
// keys), so they stay valid on a Redis Cluster.

// createScript stores a new job, indexes it under its owner and enqueues
// it, unless its idempotency key already names a job: then it returns
// that key's value ("<body hash> <job id>") instead.
//
// With a limit on the owner's unfinished jobs it refuses one over it,
// returning {2, count}.
//
// KEYS: job, owner index, stream, idempotency key, owner's active count
// ARGV: id, owner, job JSON, input, webhook JSON, idempotency value, idempotency TTL (s), active limit (0 = none)
var createScript = redis.NewScript(`
if ARGV[6] ~= '' then
  local v = redis.call('GET', KEYS[4])
  if v then return {0, v} end
end
local limit = tonumber(ARGV[8])
local active = tonumber(redis.call('GET', KEYS[5]) or '0')
if limit > 0 and active >= limit then return {2, tostring(active)} end
redis.call('INCR', KEYS[5])
redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'status', 'queued', 'job', ARGV[3], 'input', ARGV[4], 'webhook', ARGV[5])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('XADD', KEYS[3], '*', 'id', ARGV[1])
if ARGV[6] ~= '' then
  redis.call('SET', KEYS[4], ARGV[6] .. ' ' .. ARGV[1], 'EX', tonumber(ARGV[7]))
end
return {1, ARGV[1]}
`)

// transitionScript moves a job to a new state if its current state is
// one of those listed: the one check-and-set through which every state
// change goes, so a final state is never overwritten (a duplicate run, a
// cancel racing a finish). A move to a final state sets the retention
// TTL, drops the input and, atomically with the change, puts the webhook
// message into the outbox, so each final state is announced exactly once.
// It returns 1 on success, 0 when the state did not allow it, -1 when the
// job does not exist.
//
// A move to a final state also takes the job off its owner's active count.
//
// KEYS: job, outbox, deliveries, owner's active count
// ARGV: allowed states (comma list), new state, job JSON, TTL (s; 0 = none), outbox member ("" = none), due (ms)
var transitionScript = redis.NewScript(`
local s = redis.call('HGET', KEYS[1], 'status')
if not s then return -1 end
if not string.find(',' .. ARGV[1] .. ',', ',' .. s .. ',', 1, true) then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'job', ARGV[3])
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('HDEL', KEYS[1], 'input')
  redis.call('EXPIRE', KEYS[1], ttl)
  if tonumber(redis.call('GET', KEYS[4]) or '0') > 0 then redis.call('DECR', KEYS[4]) end
end
if ARGV[5] ~= '' then
  redis.call('ZADD', KEYS[2], tonumber(ARGV[6]), ARGV[5])
end
return 1
`)

// claimScript leases a due outbox message: it pushes its score to the
// end of the lease, so a dispatcher that dies mid-delivery leaves it to
// another once the lease runs out (at-least-once delivery).
//
// KEYS: outbox; ARGV: member, now (ms), lease end (ms)
var claimScript = redis.NewScript(`
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not s or tonumber(s) > tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], tonumber(ARGV[3]), ARGV[1])
return 1
`)
