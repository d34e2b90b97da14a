package budget

import "github.com/redis/go-redis/v9"

// Script results (first element of takeScript's reply).
const (
	statusGranted  = 0 // every bucket taken; go
	statusPaused   = 1 // a pause key is set; wait it out, nothing taken
	statusRefused  = 2 // the wait exceeds the caller's limit; nothing taken
	statusReserved = 3 // the reserve buckets are booked; sleep, then run the conform phase
)

// takeScript takes tokens from several GCRA buckets at once, all or none.
// The GCRA arithmetic and the state (the "theoretical arrival time" in
// seconds since 2017-01-01, under redis_rate's "rate:" keys) are those of
// redis_rate v10's allowN, so a redis_rate.Limiter with the same Limit
// shares the buckets.
//
// KEYS: np pause keys, nc failure-counter keys, nr reserve buckets, nf
// conform buckets. ARGV: np, nc, nr, nf, maxwait (s), then per bucket its
// increment (emission interval × cost, s) and burst offset (emission
// interval × burst, s).
//
// Reserve buckets may be booked in the future (up to maxwait ahead): the
// call is scheduled at the earliest time "at" every one of them allows, and
// each bucket's state advances as if the call ran at "at". Conform buckets
// must allow the call now; when they do not, the reserve buckets are still
// booked (held) and the caller comes back for the conform buckets alone.
//
// Reply: {status, wait (s, string), index of the limiting key (1-based in
// its group: pause keys, or reserve then conform buckets), backoff (1 when
// a failure counter exists)}.
var takeScript = redis.NewScript(`
local np, nc, nr, nf = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local maxwait = tonumber(ARGV[5])
local function counted()
  if nc > 0 and redis.call('EXISTS', unpack(KEYS, np + 1, np + nc)) > 0 then return 1 end
  return 0
end
local pause, pidx = 0, 0
for i = 1, np do
  local t = redis.call('PTTL', KEYS[i])
  if t > pause then pause, pidx = t, i end
end
if pause > 0 then return {1, tostring(pause / 1000), pidx, counted()} end
local nb = nr + nf
if nb == 0 then return {0, '0', 0, counted()} end
local t = redis.call('TIME')
local now = (t[1] - 1483228800) + t[2] / 1000000
local base = np + nc
-- The failure counters are read with the buckets: one command less.
local raw = redis.call('MGET', unpack(KEYS, np + 1, base + nb))
local backoff = 0
for i = 1, nc do
  if raw[i] then backoff = 1 end
end
local tat, inc, burst = {}, {}, {}
for i = 1, nb do
  tat[i] = math.max(tonumber(raw[nc + i]) or now, now)
  inc[i] = tonumber(ARGV[4 + 2 * i])
  burst[i] = tonumber(ARGV[5 + 2 * i])
end
local function allow_at(from, to)
  local at, idx = now, 0
  for i = from, to do
    local a = tat[i] + inc[i] - burst[i]
    if a > at then at, idx = a, i end
  end
  return at, idx
end
local function book(from, to, at)
  for i = from, to do
    local v = math.max(tat[i], at) + inc[i]
    redis.call('SET', KEYS[base + i], string.format('%.6f', v), 'EX', math.max(math.ceil(v - now), 1))
  end
end
local at, idx = allow_at(1, nr)
if at - now > maxwait then return {2, tostring(at - now), idx, backoff} end
if at > now then
  book(1, nr, at)
  return {3, tostring(at - now), idx, backoff}
end
local cat, cidx = allow_at(nr + 1, nb)
if cat - now > maxwait then return {2, tostring(cat - now), cidx, backoff} end
if cat > now then
  book(1, nr, now)
  return {3, tostring(cat - now), cidx, backoff}
end
book(1, nb, now)
return {0, '0', 0, backoff}
`)

// refundScript gives back tokens taken by takeScript (a booking that will
// not be used). KEYS: buckets; ARGV: their increments (s). A bucket that
// would be fuller than full is deleted (redis_rate's "full" state), so a
// refund never loses tokens, and never creates more than were taken.
var refundScript = redis.NewScript(`
local t = redis.call('TIME')
local now = (t[1] - 1483228800) + t[2] / 1000000
for i = 1, #KEYS do
  local tat = tonumber(redis.call('GET', KEYS[i]))
  if tat then
    local v = tat - tonumber(ARGV[i])
    if v > now then
      redis.call('SET', KEYS[i], string.format('%.6f', v), 'EX', math.max(math.ceil(v - now), 1))
    else
      redis.call('DEL', KEYS[i])
    end
  end
end
return 1
`)

// pauseScript sets a pause key for ARGV[1] ms unless it is already set for
// longer. Reply: the pause left (ms).
var pauseScript = redis.NewScript(`
local d = tonumber(ARGV[1])
local left = redis.call('PTTL', KEYS[1])
if left < d then
  redis.call('SET', KEYS[1], '1', 'PX', d)
  return d
end
return left
`)

// throttledScript counts one more consecutive refusal (KEYS[1], kept for
// ARGV[5] ms) and pauses (KEYS[2]) for ARGV[1] ms when Graph sent a
// Retry-After, else for min(base × 2^(n−1), max) with equal jitter
// (ARGV[2] base ms, ARGV[3] max ms, ARGV[4] a random number in [0, 1)).
// A refusal while the pause is in place answers a call sent before the
// pause began (calls in flight together): it is the same refusal, not one
// more consecutive one, and keeps the pause as it is (a longer
// Retry-After still extends it). Without that, N calls refused together
// would pause the tenant for 2^(N−1) × base. Reply: {n, pause (ms)}.
var throttledScript = redis.NewScript(`
local left = redis.call('PTTL', KEYS[2])
local n = tonumber(redis.call('GET', KEYS[1])) or 0
if left <= 0 or n == 0 then n = redis.call('INCR', KEYS[1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local d = tonumber(ARGV[1])
if d <= 0 then
  if left > 0 then return {n, left} end
  local b = math.min(tonumber(ARGV[2]) * 2 ^ math.min(n - 1, 40), tonumber(ARGV[3]))
  d = math.floor(b / 2 + b / 2 * tonumber(ARGV[4]))
end
d = math.max(d, 1)
if left < d then redis.call('SET', KEYS[2], '1', 'PX', d) else d = left end
return {n, d}
`)

// slotsScript books ARGV[1] consecutive start times, ARGV[2] µs apart,
// from the "next free slot" KEYS[1] (µs since the Unix epoch, Redis
// clock). Reply: the first slot (µs).
var slotsScript = redis.NewScript(`
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local n, step = tonumber(ARGV[1]), tonumber(ARGV[2])
local first = math.max(tonumber(redis.call('GET', KEYS[1])) or now, now)
local nxt = first + n * step
redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX', math.ceil((nxt - now) / 1000) + 60000)
return string.format('%.0f', first)
`)
