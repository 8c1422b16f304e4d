-- GET the widget. PACE_MS, when set, waits that long per connection between
-- requests (a steady load below the peak); wrk sends as fast as it can without it.
local pace = tonumber(os.getenv("PACE_MS") or "0")
if pace > 0 then
  -- Spread evenly around the mean: with a fixed wait, connections answered by the
  -- same Redis round trip would stay in step and arrive in bursts.
  function delay()
    return math.random(math.floor(pace / 2), math.floor(pace * 3 / 2))
  end
end
