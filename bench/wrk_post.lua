-- wrk's POST script for the limit runs of bench/xiaomi.sh and bench/huawei.sh (after
-- shared/bench-peers/wrk_post.lua, kept in the repository so a checkout without shared/ beside it
-- still runs it). Environment: BODY=<file> (required), CT=<content type>, AUTH=<authorization
-- header>, EXPECT=<text every accepted answer's body contains>, UNIQUE_KEY=<prefix> (bench/gateway.sh:
-- every request gets its own `Idempotency-Key: <prefix><thread>-<n>`, so each POST to the gateway
-- is a new message, not a replay).
--
-- Why the checks: wrk only warns when its script fails to load and then sends plain GETs, which
-- the simulators refuse in microseconds (a "limit" of 44.8 M tokens/s made of 405s). So a missing
-- BODY ends wrk here, and every answer is counted as accepted only when it has a 2xx status and
-- EXPECT in its body (Xiaomi answers errors with HTTP 200): done() prints
-- "Rejected answers: N of M", which bench/report.py reads. A run with any rejected answer is invalid.

local path = os.getenv("BODY")
local f = path and io.open(path, "rb")
if not f then
  io.stderr:write("wrk_post.lua: BODY is unset or unreadable: ", tostring(path), "\n")
  os.exit(2)
end
local body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = os.getenv("CT") or "application/json"
if os.getenv("AUTH") then wrk.headers["Authorization"] = os.getenv("AUTH") end

local expect = os.getenv("EXPECT")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

local unique = os.getenv("UNIQUE_KEY")
if unique then
  local sent = 0
  -- Defined only with UNIQUE_KEY: wrk then builds every request here (the others stay static).
  function request()
    sent = sent + 1
    wrk.headers["Idempotency-Key"] = unique .. tostring(id) .. "-" .. sent
    return wrk.format()
  end
end

function init(args)
  answers = 0
  rejected = 0
end

function response(status, headers, answer)
  answers = answers + 1
  if status < 200 or status > 299 or (expect and not string.find(answer, expect, 1, true)) then
    rejected = rejected + 1
  end
end

function done(summary, latency, requests)
  local total, bad = 0, 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("answers")
    bad = bad + thread:get("rejected")
  end
  io.write(string.format("Rejected answers: %d of %d\n", bad, total))
end
