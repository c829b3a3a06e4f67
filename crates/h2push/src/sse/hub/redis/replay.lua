-- What a subscriber missed: for each topic, whether history was let go after the cursor
-- (a gap) and the retained entries after the cursor up to an upper bound, in one atomic step.
--
-- KEYS: 1 generation, then per topic: stream, meta hash
-- ARGV: 1 cursor (ms-seq), 2 the cursor's generation, 3 upper bound (ms-seq), 4 max age ms (0: none)
-- Returns {generation or false, same generation (0/1), then per topic: gap (0/1), entries}.
-- With another generation the cursor is taken as 0-0 (everything retained is missed).
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function lt(x, y)
  local a1, b1 = parse(x)
  local a2, b2 = parse(y)
  return a1 < a2 or (a1 == a2 and b1 < b2)
end

local gen = redis.call('GET', KEYS[1])
local same = gen == ARGV[2]
local cursor = ARGV[1]
if not same then
  cursor = '0-0'
end
local upto = ARGV[3]
local threshold = nil
local age = tonumber(ARGV[4])
if age > 0 then
  local t = redis.call('TIME')
  local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  threshold = string.format('%.0f-0', ms - age)
end

local out = {gen, same and 1 or 0}
for i = 2, #KEYS, 2 do
  local floor = cursor
  local gap = 0
  local trimmed = redis.call('HGET', KEYS[i + 1], 'trimmed')
  if trimmed and lt(floor, trimmed) then
    gap = 1
    floor = trimmed
  end
  if threshold then
    local old = redis.call('XREVRANGE', KEYS[i], '(' .. threshold, '-', 'COUNT', 1)
    if #old > 0 and lt(floor, old[1][1]) then
      gap = 1
      floor = old[1][1]
    end
  end
  local entries = {}
  if lt(floor, upto) then
    entries = redis.call('XRANGE', KEYS[i], '(' .. floor, upto)
  end
  out[#out + 1] = gap
  out[#out + 1] = entries
end
return out
