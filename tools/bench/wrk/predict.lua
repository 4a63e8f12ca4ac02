-- predict.lua: POST /v2/predict load for wrk 4.1, driven by tools/bench.
--
--   wrk -t T -c C -d 10s -s predict.lua URL -- MODE BASE T [name=value ...]
--
-- MODE hit sends one body over and over (a cache hit after the first).
-- MODE miss makes every body unique: the n-th request (n = 0, 1, ...) of
-- thread t gets i = BASE + n*T + t, and sepal_length = 5.1 + i*1e-6, so no
-- two threads, and no two runs given disjoint BASEs, share a body. The
-- number is written from integers, so the text is exact. Each name=value
-- argument is a request header.
--
-- done prints one line for the bench to parse:
--   wrk_result requests=.. duration_us=.. connect=.. read=.. write=..
--     status=.. timeout=.. p50_us=.. p95_us=.. p99_us=.. max_us=.. issued=..
-- status counts answers >= 400 (wrk's own rule); issued is the largest n
-- any thread reached, so the next run may start at BASE + (issued+1)*T.
-- There is no response() callback on purpose: defining one makes wrk hand
-- every answer's headers and body to Lua, load-generator CPU taken from the
-- processes being measured on a small machine.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local rest = ',"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}],"options":{}}'
local mode, base, stride
local head, fixed

-- issued is global so done() can read it with thread:get.
issued = 0

local function body(i)
  local micro = 5100000 + i
  return string.format('{"model":"iris","inputs":[{"sepal_length":%d.%06d', math.floor(micro / 1000000), micro % 1000000) .. rest
end

function init(args)
  mode, base, stride = args[1], tonumber(args[2]), tonumber(args[3])
  if (mode ~= "hit" and mode ~= "miss") or not base or not stride then
    error("usage: -- hit|miss BASE THREADS [name=value ...]")
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  for k = 4, #args do
    local name, value = args[k]:match("^([^=]+)=(.*)$")
    if not name then error("header argument is not name=value: " .. args[k]) end
    wrk.headers[name] = value
  end
  -- Everything but Content-Length and the body, built once.
  local lines = { wrk.method .. " " .. wrk.path .. " HTTP/1.1" }
  for name, value in pairs(wrk.headers) do
    lines[#lines + 1] = name .. ": " .. value
  end
  head = table.concat(lines, "\r\n") .. "\r\nContent-Length: "
  if mode == "hit" then
    local b = body(0)
    fixed = head .. #b .. "\r\n\r\n" .. b
  end
end

function request()
  if fixed then
    return fixed
  end
  local b = body(base + issued * stride + tid)
  issued = issued + 1
  return head .. #b .. "\r\n\r\n" .. b
end

function done(summary, latency, requests)
  local most = 0
  for _, t in ipairs(threads) do
    local n = t:get("issued")
    if n > most then most = n end
  end
  local e = summary.errors
  io.write(string.format(
    "wrk_result requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d " ..
    "p50_us=%.0f p95_us=%.0f p99_us=%.0f max_us=%.0f issued=%d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, most))
end
