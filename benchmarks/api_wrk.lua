-- wrk script of the API benchmark (benchmarks/api_bench.py): POST create-order bodies, each
-- with its own Idempotency-Key and metadata order_id (every request creates an order), for
-- wrk's fixed duration (-d; wrk.thread:stop() would stop sending but not end the run), count
-- any status but 201 as an error, and print the figures as one JSON line prefixed
-- "WRK_JSON " from done(). Environment: BENCH_API_KEY, BENCH_RUN_ID.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  key = os.getenv("BENCH_API_KEY")
  run_id = os.getenv("BENCH_RUN_ID")
  errors = 0
  created = 0
end

function request()
  counter = counter + 1
  local order = run_id .. "-" .. id .. "-" .. counter
  local body = '{"amount":"0.05","currency":"ETH","network":"anvil",'
    .. '"metadata":{"order_id":"' .. order .. '"}}'
  return wrk.format("POST", "/v1/payments/create-order", {
    ["Content-Type"] = "application/json",
    ["X-API-Key"] = key,
    ["Idempotency-Key"] = "bench-" .. order,
  }, body)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  else
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local errors_total, created_total = 0, 0
  for _, thread in ipairs(threads) do
    errors_total = errors_total + thread:get("errors")
    created_total = created_total + thread:get("created")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"responses":%d,"created":%d,"non_201":%d,"socket_errors":%d,'
      .. '"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, created_total, errors_total,
    e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
