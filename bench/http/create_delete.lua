-- wrk script: each connection alternates POST (create a token for its own user) and
-- DELETE (that token), so every pair is two durable SQLite commits. Use -t N -c N: one
-- connection per thread, and users bench-0 .. bench-(N-1) must exist.
local thread_counter = 0
local threads = {}

function setup(thread)
    thread:set("user", "bench-" .. thread_counter)
    thread_counter = thread_counter + 1
    table.insert(threads, thread)
end

function init(args)
    pending_id = nil
    created = 0
    failures = 0
end

function request()
    if pending_id then
        local path = "/v1/auth/access-tokens/" .. pending_id
        return wrk.format("DELETE", path, { ["Authorization"] = wrk.headers["Authorization"] })
    end
    local body = '{"user": {"name": "' .. user .. '"}}'
    return wrk.format("POST", "/v1/auth/access-tokens/", {
        ["Authorization"] = wrk.headers["Authorization"],
        ["Content-Type"] = "application/json",
    }, body)
end

function response(status, headers, body)
    if pending_id then
        if status ~= 200 then failures = failures + 1 end
        pending_id = nil
    else
        local id = body:match('"id":"(%d+)"')
        if status == 200 and id then
            pending_id = id
            created = created + 1
        else
            failures = failures + 1
        end
    end
end

function done(summary, latency, requests)
    local total_created, total_failures = 0, 0
    for _, t in ipairs(threads) do
        total_created = total_created + t:get("created")
        total_failures = total_failures + t:get("failures")
    end
    local seconds = summary.duration / 1e6
    io.write(string.format("created %d tokens (and deleted them) in %.2f s: %.0f creations/s, %d failures\n",
        total_created, seconds, total_created / seconds, total_failures))
end
