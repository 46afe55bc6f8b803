-- wrk script for the webhook benchmark (bench/webhook_run.sh): posts pre-signed inbound-SMS webhooks, cycling
-- through the requests of a file written by bench/webhook_sign.js (path <TAB> signature <TAB> body per line).
-- Thread k of T takes lines k, k+T, k+2T, ... so no two threads send the same MessageSid; a thread that runs out
-- starts over (those repeats are deduplicated retries, counted as "wraps" and reported).
--
-- Usage: wrk -t T -c C -d 20s --timeout 10s -s bench/webhook_wrk.lua http://127.0.0.1:4051 -- FILE T [MODE]
-- MODE "close" (default: a connection per request, as the relay does unless BYO_TWILIO_KEEP_ALIVE_REQUESTS is
-- set) or "keep-alive" (connections reused, as a proxy with upstream keep-alive does).
-- Prints one machine-readable line at the end: "webhook_wrk key=value ...", latencies in microseconds.

local threads = {}

function setup(thread)
    table.insert(threads, thread)
    thread:set("thread_index", #threads - 1)
end

function init(args)
    local file, nthreads, mode = args[1], tonumber(args[2]), args[3] or "close"
    if file == nil or nthreads == nil then
        error("usage: ... -- FILE THREADS")
    end
    requests_ = {}
    local line_no = 0
    for line in io.lines(file) do
        if line_no % nthreads == thread_index then
            local path, signature, body = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
            -- Connection: close says what the relay does anyway without keep-alive, so wrk reconnects.
            local headers = {
                ["Content-Type"] = "application/x-www-form-urlencoded",
                ["X-Twilio-Signature"] = signature,
                ["User-Agent"] = "TwilioProxy/1.1",
            }
            if mode == "close" then headers["Connection"] = "close" end
            requests_[#requests_ + 1] = wrk.format("POST", path, headers, body)
        end
        line_no = line_no + 1
    end
    if #requests_ == 0 then
        error("no requests for this thread in " .. file)
    end
    next_ = 0
    wraps = 0
end

function request()
    next_ = next_ + 1
    if next_ > #requests_ then
        next_ = 1
        wraps = wraps + 1
    end
    return requests_[next_]
end

function done(summary, latency, requests)
    local wrapped = 0
    for _, t in ipairs(threads) do
        wrapped = wrapped + (t:get("wraps") or 0)
    end
    local e = summary.errors
    io.write(string.format(
        "webhook_wrk requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f " ..
        "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d wraps=%d\n",
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout, wrapped))
end
