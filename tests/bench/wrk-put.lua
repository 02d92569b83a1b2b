-- wrk script for the gateway: every request is the same PUT /v1/patients.
--   BODY_FILE=body.json API_KEY=... SECRET_KEY=... wrk -s tests/bench/wrk-put.lua URL
-- Prints the status counts at the end: a run that is mostly 429 or 503
-- measures the limiter or the timeout, not the pipeline.
wrk.method = "PUT"
wrk.path = "/v1/patients"
local f = assert(io.open(assert(os.getenv("BODY_FILE"), "BODY_FILE is not set"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = assert(os.getenv("API_KEY"), "API_KEY is not set")
wrk.headers["X-Secret-Key"] = assert(os.getenv("SECRET_KEY"), "SECRET_KEY is not set")

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	statuses = {}
end

function response(status, headers, body)
	statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
	local total = {}
	for _, t in ipairs(threads) do
		local s = t:get("statuses")
		for code, n in pairs(s) do
			total[code] = (total[code] or 0) + n
		end
	end
	for code, n in pairs(total) do
		io.write(string.format("status %d: %d\n", code, n))
	end
end
