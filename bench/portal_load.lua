-- wrk script: the portal's loads for bench/pay_flow.py, so the portal is loaded by the same
-- client as the floor (issue #13: "with the same load client"). A Python client spends more
-- CPU per request than the floor's server does, on the same two cores.
--
-- wrk -t N -c N -s bench/portal_load.lua <portal> -- <mode> <prefix> <host> [<signing secret>]
--
-- One connection per thread, so a thread's requests and responses alternate and a thread can
-- run a payment's three requests in order. Each thread reads <prefix>-<n>.txt (n from 1),
-- written by pay_flow.py: its session cookie, its CSRF token, then one operation per line.
--   mode "pay": lines "<bill public id> <amount>"; a payment is POST /bills/pay, POST of the
--     checkout it redirects to (the portal starts the payment at the sandbox), then the
--     sandbox's payment.succeeded notification, signed as the sandbox signs it (HMAC-SHA256
--     of "<t>.<body>" with the signing secret); each bill is paid once, its public id the
--     Idempotency-Key. A thread that has paid all its bills stops.
--   mode "get": lines "<path> <status> <bytes or -> <ETag or -> <text or -> <times or ->",
--     one picked at random per request; the response must have that status, that many
--     bytes, and the text (spaces written as %20) that many times.
-- Requests come through the proxy: Host <host>, X-Forwarded-Proto https, Origin https://<host>.
-- A request whose connection dropped before its answer is sent again, the same bytes (wrk
-- calls request() again without response()); so is the one wrk builds to check the script
-- before the run, which is never sent.
--
-- Each thread writes to <prefix>-<n>.out "LAT <ms> <step>" for each step done and "ERR <what>"
-- for its first three failures (wrk copies numbers and strings from a thread, but a table
-- crashes it). done() prints, per thread, "OPS <n> <completed> <failed> <lines used>
-- <exhausted> <sent again> <cut off>" (cut off: 1 if a payment was under way when the run
-- ended), then "SOCKET <connect> <read> <write> <timeout>" errors and "DURATION <µs>".

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
const void *EVP_sha256(void);
unsigned char *HMAC(const void *evp_md, const void *key, int key_len,
                    const unsigned char *data, size_t data_len,
                    unsigned char *md, unsigned int *md_len);
]]

-- Debian's wrk links libcrypto (for TLS): its symbols are the process's; a wrk built
-- otherwise may not have them loaded
local crypto = pcall(function() return ffi.C.HMAC end) and ffi.C or ffi.load("crypto")

local CLOCK_MONOTONIC = 1
local clock = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) / 1e9
end

local digest = ffi.new("unsigned char[32]")
local digest_length = ffi.new("unsigned int[1]")
local function hmac_sha256_hex(key, message)
  crypto.HMAC(crypto.EVP_sha256(), key, #key, message, #message, digest, digest_length)
  local hex = {}
  for i = 0, 31 do
    hex[#hex + 1] = string.format("%02x", digest[i])
  end
  return table.concat(hex)
end

local function form_value(text)
  return (text:gsub("[^%w%-_.~]", function(c) return string.format("%%%02X", c:byte()) end))
end

-- the main state: each thread numbered, its counts read back in done()
local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
  thread:set("number", #threads)
end

-- a thread's state; what done() reads back is global (thread:get reads globals)
completed, failures, exhausted, used, sent_again, cut_off = 0, 0, 0, 0, 0, 0
local mode, operations, out, host, secret, cookie, csrf_field
local step, began, step_began, bill, checkout_path, psp_id, hosted_url, get_line
local pending, answered = nil, false

local function headers(extra, with_cookie)
  local all = { ["Host"] = host, ["X-Forwarded-Proto"] = "https",
    ["X-Forwarded-For"] = "203.0.113.7" }
  if with_cookie and cookie ~= "-" then
    all["Cookie"] = cookie
  end
  for name, value in pairs(extra) do
    all[name] = value
  end
  return all
end

local function form(extra)
  extra["Content-Type"] = "application/x-www-form-urlencoded"
  extra["Origin"] = "https://" .. host
  return headers(extra, true)
end

local function fail(what)
  failures = failures + 1
  if failures <= 3 then
    out:write("ERR ", (what:gsub("\n", " ")), "\n")
  end
  step = "pay"
  cut_off = 0
end

local function record(name, seconds)
  out:write(string.format("LAT %.3f %s\n", seconds * 1000, name))
end

function init(args)
  mode, host, secret = args[1], args[3], args[4]
  local file = assert(io.open(string.format("%s-%d.txt", args[2], number)))
  cookie = file:read("*l")
  local csrf = file:read("*l")
  operations = {}
  for line in file:lines() do
    local fields = {}
    for field in line:gmatch("%S+") do
      fields[#fields + 1] = field
    end
    operations[#operations + 1] = fields
  end
  file:close()
  out = assert(io.open(string.format("%s-%d.out", args[2], number), "w"))
  csrf_field = "csrf_token=" .. form_value(csrf)
  step = "pay"
  math.randomseed(number * 7919 + os.time())
end

local function notification()
  local created = os.time()
  local body = string.format(
    '{"event_id": "evt_%s", "type": "payment.succeeded", "created": %d, "data": '
    .. '{"id": "%s", "reference": "%s", "amount": %s, "currency": "EUR", '
    .. '"description": "Payment to the public services", "status": "succeeded", '
    .. '"failure_reason": null, "method": {"brand": "visa", "last4": "4242"}, '
    .. '"refunded_amount": 0, "created": %d, "hosted_url": "%s"}}',
    psp_id, created, psp_id, checkout_path:match("^/payments/([^/]+)/"), bill[2], created,
    hosted_url)
  local signature = hmac_sha256_hex(secret, created .. "." .. body)
  -- the provider's server: no cookie
  return wrk.format("POST", "/billing/notifications/sandbox", headers({
    ["Content-Type"] = "application/json",
    ["Sandbox-Signature"] = string.format("t=%d,v1=%s", created, signature),
  }, false), body)
end

local function pay_request()
  if step == "pay" then
    bill = operations[used + 1]
    if not bill then
      exhausted = 1
      wrk.thread:stop()
      return wrk.format("GET", "/healthz", headers({}, false))
    end
    used = used + 1
    cut_off = 1
    began = now()
    step_began = began
    return wrk.format("POST", "/bills/pay", form({ ["Idempotency-Key"] = bill[1] }),
      csrf_field .. "&only=" .. bill[1])
  end
  step_began = now()
  if step == "checkout" then
    return wrk.format("POST", checkout_path, form({}), csrf_field)
  end
  return notification()
end

local function pay_response(status, response_headers, body)
  local ended = now()
  local location = response_headers["Location"] or response_headers["location"] or ""
  if step == "pay" then
    if status ~= 303 or not location:find("/checkout$") then
      return fail(string.format("pay: %d %s", status, body:sub(1, 200)))
    end
    checkout_path = location:match("^https?://[^/]+(/.*)$") or location
    record("POST /bills/pay", ended - step_began)
    step = "checkout"
  elseif step == "checkout" then
    if status ~= 303 or not location:find("/pay/psp_") then
      return fail(string.format("checkout: %d %s", status, body:sub(1, 200)))
    end
    record("POST /payments/<id>/checkout", ended - step_began)
    psp_id, hosted_url = location:match("([^/]+)$"), location
    step = "notify"
  else
    -- sent again after a dropped connection, it may have been processed the first time
    if status ~= 200 or not (body:find('"processed"', 1, true)
        or (sent_again > 0 and body:find('"duplicate"', 1, true))) then
      return fail(string.format("notification: %d %s", status, body:sub(1, 200)))
    end
    record("POST /billing/notifications/sandbox", ended - step_began)
    record("operation", ended - began)
    completed = completed + 1
    cut_off = 0
    step = "pay"
  end
end

local function get_request()
  get_line = operations[math.random(#operations)]
  began = now()
  local extra = {}
  if get_line[4] ~= "-" then
    extra["If-None-Match"] = '"' .. get_line[4] .. '"'
  end
  return wrk.format("GET", get_line[1], headers(extra, true))
end

local function get_response(status, response_headers, body)
  local ended = now()
  local expected = get_line
  if status ~= tonumber(expected[2]) then
    return fail(string.format("GET %s: %d", expected[1], status))
  end
  if expected[3] ~= "-" and #body ~= tonumber(expected[3]) then
    return fail(string.format("GET %s: %d bytes", expected[1], #body))
  end
  if expected[5] ~= "-" then
    local text = expected[5]:gsub("%%20", " ")
    local _, times = body:gsub(text:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"), "")
    if times ~= tonumber(expected[6]) then
      return fail(string.format("GET %s: %d times %s", expected[1], times, text))
    end
  end
  record("operation", ended - began)
  completed = completed + 1
end

function request()
  if pending then
    if answered then -- the first is wrk's check of the script, never sent
      sent_again = sent_again + 1
    end
    return pending
  end
  pending = mode == "pay" and pay_request() or get_request()
  return pending
end

function response(status, response_headers, body)
  pending, answered = nil, true
  if mode == "pay" then
    return pay_response(status, response_headers, body)
  end
  return get_response(status, response_headers, body)
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write(string.format("OPS %d %d %d %d %d %d %d\n", thread:get("number"),
      thread:get("completed"), thread:get("failures"), thread:get("used"),
      thread:get("exhausted"), thread:get("sent_again"), thread:get("cut_off")))
  end
  local e = summary.errors
  io.write(string.format("SOCKET %d %d %d %d\n", e.connect, e.read, e.write, e.timeout))
  io.write(string.format("DURATION %d\n", summary.duration))
end
