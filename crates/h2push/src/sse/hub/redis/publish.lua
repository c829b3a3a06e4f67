-- Publishes one event: numbers it in the hub's single sequence, appends it to the topic's
-- stream, trims the stream (count and age) and records what was trimmed.
--
-- KEYS: 1 generation, 2 last id, 3 topic stream, 4 topic meta hash, 5 idempotency key
-- ARGV: 1 generation to create if none, 2 max length, 3 max age ms (0: none),
--       4 idempotency ttl ms, 5 "1" if KEYS[5] is used, 6.. field, value, ...
-- Returns {generation, id, duplicate (0/1)}.
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function fmt(ms, seq)
  return string.format('%.0f-%.0f', ms, seq)
end

local gen = redis.call('GET', KEYS[1])
if not gen then
  redis.call('SET', KEYS[1], ARGV[1])
  gen = ARGV[1]
end
if ARGV[5] == '1' then
  local prev = redis.call('GET', KEYS[5])
  if prev then
    return {gen, prev, 1}
  end
end

local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local seq = 0
local last = redis.call('GET', KEYS[2])
if last then
  local lms, lseq = parse(last)
  if lms and ms <= lms then
    ms = lms
    seq = lseq + 1
  end
end
local id = fmt(ms, seq)
redis.call('SET', KEYS[2], id)

local xadd = {'XADD', KEYS[3], id}
for i = 6, #ARGV do
  xadd[#xadd + 1] = ARGV[i]
end
redis.call(unpack(xadd))

-- The newest entry to let go of: by count, then by age.
local cut = nil
local excess = redis.call('XLEN', KEYS[3]) - tonumber(ARGV[2])
if excess > 0 then
  local old = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', excess)
  cut = old[#old][1]
end
local age = tonumber(ARGV[3])
if age > 0 then
  local old = redis.call('XREVRANGE', KEYS[3], '(' .. fmt(ms - age, 0), '-', 'COUNT', 1)
  if #old > 0 then
    local a1, b1 = parse(old[1][1])
    if not cut then
      cut = old[1][1]
    else
      local a2, b2 = parse(cut)
      if a1 > a2 or (a1 == a2 and b1 > b2) then
        cut = old[1][1]
      end
    end
  end
end
if cut then
  local cms, cseq = parse(cut)
  redis.call('XTRIM', KEYS[3], 'MINID', fmt(cms, cseq + 1))
  redis.call('HSET', KEYS[4], 'trimmed', cut)
end

if ARGV[5] == '1' then
  redis.call('SET', KEYS[5], id, 'PX', ARGV[4])
end
return {gen, id, 0}
