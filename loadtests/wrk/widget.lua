-- The widget under load. Without TOKENS: GET the page. With TOKENS (a file of form
-- tokens, one per line; each wrk thread takes every n-th): POST a rating with a fresh
-- token each time, from one of 65,536 addresses (X-Forwarded-For, trusted from
-- 127.0.0.1), so the rate limit per client applies as it would to real citizens.
-- A refused POST (403, 422, 429) shows in wrk's "Non-2xx or 3xx responses" line.
-- PACE_MS, when set, waits about that long per connection between requests (a steady
-- load below the peak); without it wrk sends as fast as it can.
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
end

if os.getenv("TOKENS") then
  local tokens = {}
  local position = 0

  function init(args)
    local total = tonumber(os.getenv("WRK_THREADS") or "1")
    local i = 0
    for line in io.lines(os.getenv("TOKENS")) do
      if i % total == index then
        tokens[#tokens + 1] = line
      end
      i = i + 1
    end
    math.randomseed(index * 7919 + os.time())
  end

  function request()
    position = position % #tokens + 1
    local address = "10." .. math.random(0, 255) .. "." .. math.random(0, 255) .. ".7"
    local body = "token=" .. tokens[position] ..
      "&transaction=&rating=" .. math.random(1, 5) ..
      "&comment=Quick+and+clear&website=&lang=en&channel=web&layout=full"
    return wrk.format("POST", nil, {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["X-Forwarded-For"] = address,
    }, body)
  end
end

local pace = tonumber(os.getenv("PACE_MS") or "0")
if pace > 0 then
  -- Spread evenly around the mean: with a fixed wait, connections answered by the
  -- same Redis round trip would stay in step and arrive in bursts.
  function delay()
    return math.random(math.floor(pace / 2), math.floor(pace * 3 / 2))
  end
end
