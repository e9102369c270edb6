-- asl_runtime.lua — the Amazon States Language runtime of wfdsl (global `asl`).
--
-- Loaded into a run's sandbox when the program's meta says "lib": "asl" (see
-- stdlib/asl_lib.c, which embeds this file; tests/asl/embed.sh regenerates
-- it). Programs made by the ASL front end (dsl/asl.c) call it from their
-- expressions and `lua` steps. Everything here is pure: the only effects are
-- uuid(), random() and now(), which the engine records.
--
-- A state machine runs as a dispatcher whose state is a record:
--   {n = transition counter, next = state name or nil, data = JSON value,
--    vars = {ASL variables}, calls = {task state -> calls}, retry = {...}}
-- ASL errors are raised as typed errors: error({type = NAME, message = CAUSE}),
-- so the run's error has the ASL name as its type and the Cause as its message
-- ("" for none). A name that wfdsl's own error types could be mistaken for
-- (lua, timeout, http.*...) or that is not a valid type (over 63 bytes, not
-- printable ASCII) is raised as error({asl_error = NAME, cause = CAUSE}),
-- which the engine keeps as JSON in the message of a "lua" error.

local A = {}
local NULL = json.null
local ARRAY_MT = "json.array"

local function is_arr(v) return type(v) == "table" and getmetatable(v) == ARRAY_MT end
local function is_obj(v) return type(v) == "table" and getmetatable(v) ~= ARRAY_MT end
local function arr(t) return json.array(t or {}) end
A.is_array, A.is_object = is_arr, is_obj

-- wfdsl's own error types (exact names, and prefixes ending in '.').
local NATIVE = {lua = true, net = true, timeout = true, input = true, error = true, nondeterminism = true,
  cancelled = true, terminated = true}
local NATIVE_PREFIX = {"lua.", "shell.", "http.", "signal.", "sleep.", "loop.", "child.", "compensation."}
local function native(t)
  if NATIVE[t] then return true end
  for _, p in ipairs(NATIVE_PREFIX) do if t:sub(1, #p) == p then return true end end
  return false
end
local function typed_ok(name)
  return type(name) == "string" and #name > 0 and #name < 64 and not name:find("[^\32-\126]") and not native(name)
end

local function raise(name, cause)
  if cause == NULL then cause = nil end
  if typed_ok(name) and (cause == nil or type(cause) == "string") then
    error({type = name, message = cause or ""}, 0)
  end
  error({asl_error = name, cause = cause}, 0)
end
A.raise = raise
local function runtime(cause) raise("States.Runtime", cause) end

local function copy(v)
  if type(v) ~= "table" then return v end
  local o = {}
  for k, x in pairs(v) do o[k] = copy(x) end
  if is_arr(v) then json.array(o) end
  return o
end
A.copy = copy

local function enc(v)
  if v == nil then return "null" end
  return json.encode(v)
end

local function deep_eq(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  if is_arr(a) ~= is_arr(b) then return false end
  for k, x in pairs(a) do if not deep_eq(x, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

-- ---- JSONPath ------------------------------------------------------------

local path_cache = {}

-- "$.a['b'][0][*]" -> {root = "$"|"$$"|"var", var = name, segs = {...}}
local function parse_path(p)
  local c = path_cache[p]
  if c then return c end
  if type(p) ~= "string" or p:sub(1, 1) ~= "$" then return nil end
  local r = {root = "$", segs = {}}
  local i = 2
  if p:sub(2, 2) == "$" then r.root = "$$"; i = 3
  else
    local v = p:match("^[%a_][%w_]*", 2)
    if v then r.root = "var"; r.var = v; i = 2 + #v end
  end
  local n = #p
  while i <= n do
    local ch = p:sub(i, i)
    if ch == "." then
      local name = p:match("^[^%.%[]+", i + 1)
      if not name then return nil end
      if name == "*" then r.segs[#r.segs + 1] = {star = true}
      elseif name == "length()" then r.segs[#r.segs + 1] = {length = true}
      else r.segs[#r.segs + 1] = {key = name} end
      i = i + 1 + #name
    elseif ch == "[" then
      local q = p:sub(i + 1, i + 1)
      if q == "'" or q == '"' then
        local j = i + 2
        local buf = {}
        while j <= n and p:sub(j, j) ~= q do
          local cj = p:sub(j, j)
          if cj == "\\" then j = j + 1; cj = p:sub(j, j) end
          buf[#buf + 1] = cj
          j = j + 1
        end
        if p:sub(j + 1, j + 1) ~= "]" then return nil end
        r.segs[#r.segs + 1] = {key = table.concat(buf)}
        i = j + 2
      else
        local inner = p:match("^%[([^%]]*)%]", i)
        if not inner then return nil end
        if inner == "*" then r.segs[#r.segs + 1] = {star = true}
        elseif inner:match("^%-?%d+$") then r.segs[#r.segs + 1] = {index = tonumber(inner)}
        elseif inner:match("^%-?%d*:%-?%d*$") then
          local a, b = inner:match("^(%-?%d*):(%-?%d*)$")
          r.segs[#r.segs + 1] = {slice = true, from = tonumber(a), to = tonumber(b)}
        else return nil end
        i = i + #inner + 2
      end
    else
      return nil
    end
  end
  path_cache[p] = r
  return r
end
A.parse_path = parse_path

local function valid_path(p) return parse_path(p) ~= nil end

-- Follow segs from v; returns found, value.
local function walk(v, segs, k, multi)
  k = k or 1
  if k > #segs then return true, v end
  local s = segs[k]
  if s.length then
    if is_arr(v) then return walk(#v, segs, k + 1, multi) end
    return false
  end
  if s.star or s.slice then
    local items = {}
    if is_arr(v) then
      local from, to = 1, #v
      if s.slice then
        from = (s.from or 0); if from < 0 then from = #v + from end; from = from + 1
        to = s.to or #v; if to < 0 then to = #v + to end
      end
      for i = math.max(from, 1), math.min(to, #v) do items[#items + 1] = v[i] end
    elseif is_obj(v) and s.star then
      for _, x in pairs(v) do items[#items + 1] = x end
    else
      return false
    end
    local out = {}
    for _, x in ipairs(items) do
      local ok, y = walk(x, segs, k + 1, true)
      if ok then
        if is_arr(y) and (segs[k + 1] and (segs[k + 1].star or segs[k + 1].slice)) then
          for _, z in ipairs(y) do out[#out + 1] = z end
        else out[#out + 1] = y end
      end
    end
    return true, arr(out)
  end
  if s.index then
    if not is_arr(v) then return false end
    local i = s.index
    if i < 0 then i = #v + i end
    local x = v[i + 1]
    if x == nil then return false end
    return walk(x, segs, k + 1, multi)
  end
  if not is_obj(v) then return false end
  local x = v[s.key]
  if x == nil then return false end
  return walk(x, segs, k + 1, multi)
end

-- The context object $$.
local function context(cur, name, extra)
  local ctx = {
    Execution = {Id = "arn:aws:states:local:000000000000:execution:" .. tostring(run.workflow) .. ":" .. tostring(run.id),
                 Input = input, Name = run.id, StartTime = run.started_at,
                 RoleArn = "arn:aws:iam::000000000000:role/wfdsl"},
    StateMachine = {Id = "arn:aws:states:local:000000000000:stateMachine:" .. tostring(run.workflow),
                    Name = run.workflow},
    -- EnteredTime: the time it is first read in this evaluation (now(), so
    -- recorded), which for Parameters is when the state was entered
    State = setmetatable({Name = name, RetryCount = cur and cur.retry and cur.retry.total or 0},
      {__index = function(t, k)
        if k ~= "EnteredTime" then return nil end
        local v = now()
        t.EnteredTime = v
        return v
      end}),
  }
  if extra then for k, v in pairs(extra) do ctx[k] = v end end
  return ctx
end
A.context = context

-- Resolve path p against data. env = {cur, name, ctx_extra}.
local function resolve(data, p, env)
  local r = parse_path(p)
  if not r then runtime("Invalid JSONPath '" .. tostring(p) .. "'") end
  local root = data
  if r.root == "$$" then
    root = context(env.cur, env.name, env.ctx)
    -- the whole State object (or $$) includes EnteredTime
    if #r.segs == 0 or (#r.segs == 1 and r.segs[1].key == "State") then local _ = root.State.EnteredTime end
  elseif r.root == "var" then
    -- the record's variables; in the structured form, the workflow variable
    -- asl_vars (set by the steps of Assign)
    local vars = env.cur and env.cur.vars or A.vars()
    root = vars[r.var]
    if root == nil then raise("States.Runtime", "Invalid path '" .. p .. "': variable '" .. r.var .. "' is not defined") end
  end
  return walk(root, r.segs)
end

local function get(data, p, env)
  local ok, v = resolve(data, p, env)
  if not ok then runtime("Path expression '" .. p .. "' does not point to a value") end
  return v
end

-- ---- intrinsic functions ----------------------------------------------------

-- Parse "States.Name(arg, ...)" into {fn = name, args = {...}}; args are
-- {lit = value, raw = text for strings} | {path = p} | {call = ...}.
local function parse_call(s, i)
  local name = s:match("^States%.[%a%d]+", i)
  if not name then return nil, "expected an intrinsic function at " .. i end
  i = i + #name
  i = s:match("^%s*()", i)
  if s:sub(i, i) ~= "(" then return nil, "expected '(' after " .. name end
  i = i + 1
  local args = {}
  while true do
    i = s:match("^%s*()", i)
    local ch = s:sub(i, i)
    if ch == ")" and #args == 0 then i = i + 1; break end
    local a
    if ch == "'" then
      local buf, raw = {}, {}
      local j = i + 1
      while true do
        local cj = s:sub(j, j)
        if cj == "" then return nil, "unterminated string" end
        if cj == "\\" then
          local nx = s:sub(j + 1, j + 1)
          buf[#buf + 1] = nx
          raw[#raw + 1] = cj .. nx
          j = j + 2
        elseif cj == "'" then break
        else buf[#buf + 1] = cj; raw[#raw + 1] = cj; j = j + 1 end
      end
      a = {lit = table.concat(buf), raw = table.concat(raw)}
      i = j + 1
    elseif ch == "$" then
      local j = i
      local depth = 0
      while j <= #s do
        local cj = s:sub(j, j)
        if cj == "[" then depth = depth + 1 elseif cj == "]" then depth = depth - 1
        elseif (cj == "," or cj == ")") and depth == 0 then break
        elseif cj == "'" or cj == '"' then
          local k = s:find(cj, j + 1, true); if not k then break end; j = k
        end
        j = j + 1
      end
      a = {path = (s:sub(i, j - 1):gsub("%s+$", ""))}
      i = j
    elseif s:sub(i, i + 6) == "States." then
      local c, ni = parse_call(s, i)
      if not c then return nil, ni end
      a = {call = c}
      i = ni
    else
      local tok = s:match("^[^,%)%s]+", i)
      if not tok then return nil, "unexpected '" .. ch .. "'" end
      if tok == "null" then a = {lit = NULL}
      elseif tok == "true" then a = {lit = true}
      elseif tok == "false" then a = {lit = false}
      elseif tonumber(tok) then
        local nv = math.tointeger(tonumber(tok))
        if tok:find("[%.eE]") then nv = tonumber(tok) + 0.0 end
        a = {lit = nv or tonumber(tok)}
      else return nil, "unexpected '" .. tok .. "'" end
      i = i + #tok
    end
    args[#args + 1] = a
    i = s:match("^%s*()", i)
    local sep = s:sub(i, i)
    if sep == "," then i = i + 1
    elseif sep == ")" then i = i + 1; break
    else return nil, "expected ',' or ')'" end
  end
  return {fn = name, args = args}, i
end

local call_cache = {}
local function parse_intrinsic(s)
  local c = call_cache[s]
  if c then return c end
  local r, i = parse_call(s, 1)
  if not r then return nil, i end
  if s:match("^%s*$", i) == nil then return nil, "trailing text after the function call" end
  call_cache[s] = r
  return r
end
A.parse_intrinsic = parse_intrinsic

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64enc(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    out[#out + 1] = B64:sub((n >> 18) + 1, (n >> 18) + 1) .. B64:sub(((n >> 12) & 63) + 1, ((n >> 12) & 63) + 1) ..
      (b and B64:sub(((n >> 6) & 63) + 1, ((n >> 6) & 63) + 1) or "=") .. (c and B64:sub((n & 63) + 1, (n & 63) + 1) or "=")
  end
  return table.concat(out)
end
local function b64dec(s)
  local map = {}
  for i = 1, 64 do map[B64:byte(i)] = i - 1 end
  s = s:gsub("[%s=]", "")
  local out, bits, nb = {}, 0, 0
  for i = 1, #s do
    local v = map[s:byte(i)]
    if not v then raise("States.IntrinsicFailure", "States.Base64Decode: invalid base64 input") end
    bits = (bits << 6) | v
    nb = nb + 6
    if nb >= 8 then
      nb = nb - 8
      out[#out + 1] = string.char((bits >> nb) & 255)
    end
  end
  return table.concat(out)
end

-- Hashes on 32-bit words in Lua 5.4 integers.
local M32 = 0xffffffff
local function rol(x, n) return ((x << n) | (x >> (32 - n))) & M32 end
local function ror(x, n) return ((x >> n) | (x << (32 - n))) & M32 end
local function pad(msg, big)
  local len = #msg * 8
  msg = msg .. "\128" .. string.rep("\0", (55 - #msg) % 64)
  if big then return msg .. string.pack(">I8", len) end
  return msg .. string.pack("<I8", len)
end
local function sha1(msg)
  msg = pad(msg, true)
  local h0, h1, h2, h3, h4 = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0
  for c = 1, #msg, 64 do
    local w = {}
    for i = 0, 15 do w[i] = string.unpack(">I4", msg, c + i * 4) end
    for i = 16, 79 do w[i] = rol(w[i - 3] ~ w[i - 8] ~ w[i - 14] ~ w[i - 16], 1) end
    local a, b, cc, d, e = h0, h1, h2, h3, h4
    for i = 0, 79 do
      local f, k
      if i < 20 then f = (b & cc) | ((~b) & d); k = 0x5A827999
      elseif i < 40 then f = b ~ cc ~ d; k = 0x6ED9EBA1
      elseif i < 60 then f = (b & cc) | (b & d) | (cc & d); k = 0x8F1BBCDC
      else f = b ~ cc ~ d; k = 0xCA62C1D6 end
      local t = (rol(a, 5) + (f & M32) + e + k + w[i]) & M32
      e = d; d = cc; cc = rol(b, 30); b = a; a = t
    end
    h0 = (h0 + a) & M32; h1 = (h1 + b) & M32; h2 = (h2 + cc) & M32; h3 = (h3 + d) & M32; h4 = (h4 + e) & M32
  end
  return string.format("%08x%08x%08x%08x%08x", h0, h1, h2, h3, h4)
end
local K256 = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2}
local function sha256(msg)
  msg = pad(msg, true)
  local H = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}
  for c = 1, #msg, 64 do
    local w = {}
    for i = 0, 15 do w[i] = string.unpack(">I4", msg, c + i * 4) end
    for i = 16, 63 do
      local s0 = ror(w[i - 15], 7) ~ ror(w[i - 15], 18) ~ (w[i - 15] >> 3)
      local s1 = ror(w[i - 2], 17) ~ ror(w[i - 2], 19) ~ (w[i - 2] >> 10)
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) & M32
    end
    local a, b, cc, d, e, f, g, h = table.unpack(H)
    for i = 0, 63 do
      local S1 = ror(e, 6) ~ ror(e, 11) ~ ror(e, 25)
      local ch = (e & f) ~ ((~e) & g & M32)
      local t1 = (h + S1 + ch + K256[i + 1] + w[i]) & M32
      local S0 = ror(a, 2) ~ ror(a, 13) ~ ror(a, 22)
      local maj = (a & b) ~ (a & cc) ~ (b & cc)
      local t2 = (S0 + maj) & M32
      h = g; g = f; f = e; e = (d + t1) & M32; d = cc; cc = b; b = a; a = (t1 + t2) & M32
    end
    local v = {a, b, cc, d, e, f, g, h}
    for i = 1, 8 do H[i] = (H[i] + v[i]) & M32 end
  end
  return string.format(string.rep("%08x", 8), table.unpack(H))
end
local MD5_S = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
  5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21}
local MD5_K = {}
for i = 0, 63 do MD5_K[i] = math.floor(math.abs(math.sin(i + 1)) * 2 ^ 32) & M32 end
local function md5(msg)
  msg = pad(msg, false)
  local a0, b0, c0, d0 = 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476
  for c = 1, #msg, 64 do
    local m = {}
    for i = 0, 15 do m[i] = string.unpack("<I4", msg, c + i * 4) end
    local a, b, cc, d = a0, b0, c0, d0
    for i = 0, 63 do
      local f, g
      if i < 16 then f = (b & cc) | ((~b) & d); g = i
      elseif i < 32 then f = (d & b) | ((~d) & cc); g = (5 * i + 1) % 16
      elseif i < 48 then f = b ~ cc ~ d; g = (3 * i + 5) % 16
      else f = cc ~ (b | ((~d) & M32)); g = (7 * i) % 16 end
      f = (f + a + MD5_K[i] + m[g]) & M32
      a = d; d = cc; cc = b; b = (b + rol(f, MD5_S[i + 1])) & M32
    end
    a0 = (a0 + a) & M32; b0 = (b0 + b) & M32; c0 = (c0 + cc) & M32; d0 = (d0 + d) & M32
  end
  local out = {}
  for _, v in ipairs({a0, b0, c0, d0}) do out[#out + 1] = string.format("%02x%02x%02x%02x", v & 255, (v >> 8) & 255, (v >> 16) & 255, (v >> 24) & 255) end
  return table.concat(out)
end
A.sha1, A.sha256, A.md5 = sha1, sha256, md5

-- An intrinsic function that fails (bad arguments, bad input) raises
-- States.IntrinsicFailure; a path in its arguments that points nowhere is
-- States.Runtime like any path.
local function intrinsic_failure(cause) raise("States.IntrinsicFailure", cause) end
local function need(cond, fn, what)
  if not cond then intrinsic_failure("The arguments of " .. fn .. " are invalid: " .. what) end
end

local function fmt_value(v)
  if type(v) == "string" then return v end
  if v == NULL or v == nil then return "null" end
  if math.type(v) == "float" and v == math.floor(v) and math.abs(v) < 1e15 then return string.format("%d", v) end
  if type(v) == "number" or type(v) == "boolean" then return tostring(v) end
  return json.encode(v)
end

local intrinsics = {}
intrinsics["States.Format"] = function(args, raws)
  need(#args >= 1 and type(args[1]) == "string", "States.Format", "the first argument must be a string")
  local tpl = raws[1] or args[1]
  local out, k, i = {}, 2, 1
  while i <= #tpl do
    local c = tpl:sub(i, i)
    if c == "\\" and raws[1] then out[#out + 1] = tpl:sub(i + 1, i + 1); i = i + 2
    elseif c == "{" and tpl:sub(i + 1, i + 1) == "}" then
      need(k <= #args, "States.Format", "more {} than arguments")
      out[#out + 1] = fmt_value(args[k]); k = k + 1; i = i + 2
    else out[#out + 1] = c; i = i + 1 end
  end
  need(k == #args + 1, "States.Format", "more arguments than {}")
  return table.concat(out)
end
intrinsics["States.StringToJson"] = function(args)
  need(type(args[1]) == "string", "States.StringToJson", "needs a string")
  if args[1]:match("^%s*$") then return NULL end
  local ok, v = pcall(json.decode, args[1])
  if not ok then intrinsic_failure("States.StringToJson: the string is not JSON: " .. args[1]) end
  if v == nil then return NULL end
  return v
end
intrinsics["States.JsonToString"] = function(args) return enc(args[1]) end
intrinsics["States.Array"] = function(args) local o = {} for i = 1, #args do o[i] = args[i] end return arr(o) end
intrinsics["States.ArrayPartition"] = function(args)
  local a, n = args[1], args[2]
  need(is_arr(a) and math.type(n) == "integer" and n > 0, "States.ArrayPartition", "needs an array and a positive integer")
  local out, chunk = {}, nil
  for i = 1, #a do
    if (i - 1) % n == 0 then chunk = arr(); out[#out + 1] = chunk end
    chunk[#chunk + 1] = a[i]
  end
  return arr(out)
end
intrinsics["States.ArrayContains"] = function(args)
  need(is_arr(args[1]), "States.ArrayContains", "needs an array")
  for _, x in ipairs(args[1]) do if deep_eq(x, args[2]) then return true end end
  return false
end
intrinsics["States.ArrayRange"] = function(args)
  local a, b, s = args[1], args[2], args[3]
  for i = 1, 3 do need(type(args[i]) == "number" and math.tointeger(args[i]), "States.ArrayRange", "needs three integers") end
  a, b, s = math.tointeger(a), math.tointeger(b), math.tointeger(s)
  need(s ~= 0, "States.ArrayRange", "the step must not be 0")
  local out = {}
  for i = a, b, s do
    out[#out + 1] = i
    need(#out <= 1000, "States.ArrayRange", "more than 1000 items")
  end
  return arr(out)
end
intrinsics["States.ArrayGetItem"] = function(args)
  need(is_arr(args[1]) and math.tointeger(args[2]), "States.ArrayGetItem", "needs an array and an index")
  local v = args[1][math.tointeger(args[2]) + 1]
  need(v ~= nil, "States.ArrayGetItem", "index out of range")
  return v
end
intrinsics["States.ArrayLength"] = function(args)
  need(is_arr(args[1]), "States.ArrayLength", "needs an array")
  return #args[1]
end
intrinsics["States.ArrayUnique"] = function(args)
  need(is_arr(args[1]), "States.ArrayUnique", "needs an array")
  local out = {}
  for _, x in ipairs(args[1]) do
    local seen = false
    for _, y in ipairs(out) do if deep_eq(x, y) then seen = true break end end
    if not seen then out[#out + 1] = x end
  end
  return arr(out)
end
intrinsics["States.Base64Encode"] = function(args)
  need(type(args[1]) == "string", "States.Base64Encode", "needs a string")
  return b64enc(args[1])
end
intrinsics["States.Base64Decode"] = function(args)
  need(type(args[1]) == "string", "States.Base64Decode", "needs a string")
  return b64dec(args[1])
end
intrinsics["States.Hash"] = function(args)
  local data, alg = args[1], args[2]
  need(data ~= nil and data ~= NULL, "States.Hash", "needs data")
  if type(data) ~= "string" then data = fmt_value(data) end
  if alg == "SHA-1" then return sha1(data)
  elseif alg == "SHA-256" then return sha256(data)
  elseif alg == "MD5" then return md5(data) end
  intrinsic_failure("States.Hash: algorithm '" .. tostring(alg) .. "' is not supported by wfdsl (MD5, SHA-1, SHA-256 are)")
end
intrinsics["States.JsonMerge"] = function(args)
  need(is_obj(args[1]) and is_obj(args[2]), "States.JsonMerge", "needs two objects")
  need(args[3] == false, "States.JsonMerge", "deep merge (true) is not supported by AWS")
  local o = copy(args[1])
  for k, v in pairs(args[2]) do o[k] = copy(v) end
  return o
end
intrinsics["States.MathRandom"] = function(args)
  local a, b = math.tointeger(args[1]), math.tointeger(args[2])
  need(a and b and a <= b, "States.MathRandom", "needs two integers, start <= end")
  return a + math.floor(random() * (b - a + 1))
end
intrinsics["States.MathAdd"] = function(args)
  need(type(args[1]) == "number" and type(args[2]) == "number", "States.MathAdd", "needs two numbers")
  local r = args[1] + args[2]
  return math.tointeger(r) or r
end
intrinsics["States.StringSplit"] = function(args)
  local s, d = args[1], args[2]
  need(type(s) == "string" and type(d) == "string", "States.StringSplit", "needs two strings")
  local out = {}
  if d == "" then out[1] = s return arr(out) end
  local set = {}
  for i = 1, #d do set[d:sub(i, i)] = true end
  local cur = {}
  for i = 1, #s do
    local c = s:sub(i, i)
    if set[c] then
      if #cur > 0 then out[#out + 1] = table.concat(cur) end
      cur = {}
    else cur[#cur + 1] = c end
  end
  if #cur > 0 then out[#out + 1] = table.concat(cur) end
  return arr(out)
end
intrinsics["States.UUID"] = function() return uuid() end
A.intrinsic_names = intrinsics

local function eval_call(c, data, env)
  local f = intrinsics[c.fn]
  if not f then intrinsic_failure("Unknown intrinsic function " .. c.fn) end
  local args, raws = {}, {}
  for i, a in ipairs(c.args) do
    if a.call then args[i] = eval_call(a.call, data, env)
    elseif a.path then args[i] = get(data, a.path, env)
    else args[i] = a.lit; raws[i] = a.raw end
  end
  return f(args, raws)
end

-- A ".$" value: a path, a context path, a variable or an intrinsic call.
-- fail: the error name when the path selects nothing (States.Runtime unless
-- given; States.ParameterPathFailure in Parameters and ItemSelector).
local function eval_dollar(v, data, env, key, fail)
  if type(v) ~= "string" then runtime("The value of '" .. key .. "' must be a string") end
  if v:sub(1, 7) == "States." then
    local c, why = parse_intrinsic(v)
    if not c then intrinsic_failure("Invalid intrinsic function '" .. v .. "': " .. why) end
    return eval_call(c, data, env)
  end
  local ok, r = resolve(data, v, env)
  if not ok then
    raise(fail or "States.Runtime",
      "The JsonPath argument for the field '" .. key .. "' could not be found in the input '" .. enc(data) .. "'")
  end
  return r
end
A.eval_dollar = eval_dollar

-- A payload template (Parameters, ItemSelector, ResultSelector, Assign)
-- evaluated against data; fail as in eval_dollar.
local function payload(t, data, env, fail)
  if is_arr(t) then
    local o = {}
    for i, v in ipairs(t) do o[i] = payload(v, data, env, fail) end
    return arr(o)
  elseif is_obj(t) then
    local o = {}
    for k, v in pairs(t) do
      if k:sub(-2) == ".$" then o[k:sub(1, -3)] = copy(eval_dollar(v, data, env, k, fail))
      else o[k] = payload(v, data, env, fail) end
    end
    return o
  end
  return t
end
A.payload = payload

-- ---- input and output processing -------------------------------------------

local function input_path(data, s, env)
  local p = s.InputPath
  if p == NULL then return {} end
  if p == nil or p == "$" then return data end
  return get(data, p, env)
end

local function output_path(data, s, env)
  local p = s.OutputPath
  if p == NULL then return {} end
  if p == nil or p == "$" then return data end
  return get(data, p, env)
end

-- ResultPath: the input with result put at path p. A path that cannot be
-- applied to the input (the input, or a field on the way, is not an object;
-- an index that is not in the array) is States.ResultPathMatchFailure.
local function result_path(input, result, p, env)
  if p == NULL then return input end
  if p == nil or p == "$" then return result end
  local r = parse_path(p)
  if not r or r.root ~= "$" then runtime("Invalid ResultPath '" .. tostring(p) .. "'") end
  local function mismatch(why)
    raise("States.ResultPathMatchFailure", "Unable to apply ResultPath '" .. p .. "' to input '" .. enc(input) .. "': " .. why)
  end
  local out = copy(input)
  if not is_obj(out) then mismatch("it is not an object") end
  local t = out
  for i, sg in ipairs(r.segs) do
    local last = i == #r.segs
    if sg.key then
      if not is_obj(t) then mismatch("the value before '" .. sg.key .. "' is not an object") end
      if last then t[sg.key] = result
      else
        local nx = t[sg.key]
        if nx == nil or nx == NULL then nx = {}; t[sg.key] = nx end
        if not is_obj(nx) then mismatch("'" .. sg.key .. "' is not an object") end
        t = nx
      end
    elseif sg.index and is_arr(t) and t[sg.index + 1] ~= nil then
      if last then t[sg.index + 1] = result else t = t[sg.index + 1] end
    elseif sg.index then
      mismatch("[" .. sg.index .. "] is not an element of an array")
    else
      runtime("Invalid ResultPath '" .. p .. "'")
    end
  end
  return out
end
A.result_path = function(input, result, p) return result_path(input, result, p, {}) end

local PARAM_FAIL = "States.ParameterPathFailure"

local function env_of(cur, s, ctx) return {cur = cur, name = s._name, ctx = ctx} end

local function assign(cur, s, value, env)
  if s.Assign == nil then return cur.vars end
  local vals = payload(s.Assign, value, env)
  local vars = {}
  for k, v in pairs(cur.vars or {}) do vars[k] = v end
  for k, v in pairs(vals) do vars[k] = v end
  return vars
end

-- A new record after state s: output data, next state (nil at an end).
local function advance(cur, s, data, vars)
  local nx = s.Next
  if s.End == true or s.Type == "Succeed" or s.Type == "Fail" then nx = nil end
  return {n = cur.n + 1, next = nx, data = data, vars = vars or cur.vars, calls = cur.calls}
end

-- ---- dispatcher records ---------------------------------------------------

-- The first record of a state machine (top level: stale = nil) or of a
-- branch / iteration (stale: that dispatcher's record from an earlier
-- activation, so that the new one is recognisably newer).
function A.start(data, start, vars, stale)
  local n = 1
  if stale and stale.n then n = stale.n + 1 end
  if data == nil then data = NULL end
  return {n = n, next = start, data = data, vars = vars or {}, calls = {}}
end

-- The current record of a dispatcher: the newer of its first record and the
-- record the last state returned.
function A.cur(init, last)
  if last and last.n and init and last.n > init.n then return last end
  return init
end
function A.at(init, last, name) return A.cur(init, last).next == name end
function A.done(init, last) return A.cur(init, last).next == nil end
function A.result(init, last)
  local d = A.cur(init, last).data
  if d == nil then return NULL end
  return d
end
-- The record among candidates made by the current state (n == cur.n + 1).
function A.pick(cur, ...)
  for i = 1, select("#", ...) do
    local r = select(i, ...)
    if type(r) == "table" and r.n == cur.n + 1 then return r end
  end
  runtime("internal: no result for state " .. tostring(cur.next))
end

-- ---- states ------------------------------------------------------------------

function A.pass(cur, s)
  local env = env_of(cur, s)
  local input = cur.data
  local eff = input_path(input, s, env)
  if s.Parameters ~= nil then eff = payload(s.Parameters, eff, env, PARAM_FAIL) end
  local result = eff
  if s.Result ~= nil then result = copy(s.Result) end
  local vars = assign(cur, s, result, env)
  local out = output_path(result_path(input, result, s.ResultPath, env), s, env)
  return advance(cur, s, out, vars)
end

function A.succeed(cur, s)
  local env = env_of(cur, s)
  local out = output_path(input_path(cur.data, s, env), s, env)
  return advance(cur, s, out)
end

function A.fail(cur, s)
  local env = env_of(cur, s)
  local err, cause = s.Error, s.Cause
  if s.ErrorPath then err = eval_dollar(s.ErrorPath, cur.data, env, "ErrorPath") end
  if s.CausePath then cause = eval_dollar(s.CausePath, cur.data, env, "CausePath") end
  -- a Fail without a Cause: none at the top level (as AWS records); inside a
  -- Parallel branch or Map iteration the reference engine's text
  if cause == nil and s._nested then cause = "Execution failed because of a Fail state" end
  if err == nil then err = "FailStateError" end -- the reference engine's name; AWS records none
  raise(err, cause)
end

-- Choice rules.
local function ts_parse(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, se, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)(.*)$")
  if not y then return nil end
  local frac = 0
  local f = rest:match("^%.(%d+)")
  if f then frac = tonumber("0." .. f); rest = rest:sub(#f + 2) end
  local off = 0
  if rest == "Z" or rest == "z" then off = 0
  else
    local sg, oh, om = rest:match("^([%+%-])(%d%d):(%d%d)$")
    if not sg then return nil end
    off = (tonumber(oh) * 60 + tonumber(om)) * 60
    if sg == "-" then off = -off end
  end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  -- days from civil (Howard Hinnant)
  local yy = mo <= 2 and y - 1 or y
  local era = (yy >= 0 and yy or yy - 399) // 400
  local yoe = yy - era * 400
  local doy = (153 * (mo + (mo > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se) + frac - off
end
A.ts_parse = ts_parse

local function glob_match(str, pat)
  -- '*' matches any run of characters; '\*' and '\\' are literal.
  local lp = {"^"}
  local i = 1
  while i <= #pat do
    local c = pat:sub(i, i)
    if c == "\\" and i < #pat then
      lp[#lp + 1] = "%" .. pat:sub(i + 1, i + 1):gsub("%w", function(x) return x end)
      if pat:sub(i + 1, i + 1):match("%w") then lp[#lp] = pat:sub(i + 1, i + 1) end
      i = i + 2
    elseif c == "*" then lp[#lp + 1] = ".-"; i = i + 1
    else
      if c:match("%W") then lp[#lp + 1] = "%" .. c else lp[#lp + 1] = c end
      i = i + 1
    end
  end
  lp[#lp + 1] = "$"
  return str:match(table.concat(lp)) ~= nil
end

local CMP = {
  StringEquals = {"string", function(a, b) return a == b end},
  StringLessThan = {"string", function(a, b) return a < b end},
  StringGreaterThan = {"string", function(a, b) return a > b end},
  StringLessThanEquals = {"string", function(a, b) return a <= b end},
  StringGreaterThanEquals = {"string", function(a, b) return a >= b end},
  NumericEquals = {"number", function(a, b) return a == b end},
  NumericLessThan = {"number", function(a, b) return a < b end},
  NumericGreaterThan = {"number", function(a, b) return a > b end},
  NumericLessThanEquals = {"number", function(a, b) return a <= b end},
  NumericGreaterThanEquals = {"number", function(a, b) return a >= b end},
  BooleanEquals = {"boolean", function(a, b) return a == b end},
  TimestampEquals = {"ts", function(a, b) return a == b end},
  TimestampLessThan = {"ts", function(a, b) return a < b end},
  TimestampGreaterThan = {"ts", function(a, b) return a > b end},
  TimestampLessThanEquals = {"ts", function(a, b) return a <= b end},
  TimestampGreaterThanEquals = {"ts", function(a, b) return a >= b end},
}

local function rule(r, data, env)
  if r.And then
    for _, x in ipairs(r.And) do if not rule(x, data, env) then return false end end
    return true
  elseif r.Or then
    for _, x in ipairs(r.Or) do if rule(x, data, env) then return true end end
    return false
  elseif r.Not then
    return not rule(r.Not, data, env)
  end
  local found, v = resolve(data, r.Variable, env)
  if r.IsPresent ~= nil then return found == r.IsPresent end
  if not found then
    runtime("Invalid path '" .. tostring(r.Variable) .. "': The choice state's condition path references an invalid value.")
  end
  if r.IsNull ~= nil then return (v == NULL) == r.IsNull end
  if r.IsNumeric ~= nil then return (type(v) == "number") == r.IsNumeric end
  if r.IsString ~= nil then return (type(v) == "string") == r.IsString end
  if r.IsBoolean ~= nil then return (type(v) == "boolean") == r.IsBoolean end
  if r.IsTimestamp ~= nil then return (ts_parse(v) ~= nil) == r.IsTimestamp end
  if r.StringMatches ~= nil then return type(v) == "string" and glob_match(v, r.StringMatches) end
  for op, spec in pairs(CMP) do
    local arg = r[op]
    if arg == nil and r[op .. "Path"] ~= nil then
      local ok2, a2 = resolve(data, r[op .. "Path"], env)
      if not ok2 then
        runtime("Invalid path '" .. r[op .. "Path"] .. "': The choice state's condition path references an invalid value.")
      end
      arg = a2
    end
    if arg ~= nil then
      local kind, f = spec[1], spec[2]
      if kind == "ts" then
        local a, b = ts_parse(v), ts_parse(arg)
        return a ~= nil and b ~= nil and f(a, b)
      end
      return type(v) == kind and type(arg) == kind and f(v, arg)
    end
  end
  runtime("Choice rule without a comparison operator")
end
A.rule = function(r, data) return rule(r, data, {}) end

function A.choice(cur, s)
  local env = env_of(cur, s)
  local eff = input_path(cur.data, s, env)
  local nx, matched = s.Default, nil
  for _, r in ipairs(s.Choices or {}) do
    if rule(r, eff, env) then nx = r.Next; matched = r break end
  end
  if nx == nil then
    raise("States.NoChoiceMatched", "No Matches!")
  end
  -- the matched rule's Assign, else the state's
  local vars = assign(cur, (matched and matched.Assign ~= nil) and matched or s, eff, env)
  local out = output_path(eff, s, env)
  local r = advance(cur, s, out, vars)
  r.next = nx
  return r
end

-- Wait: the time to wake (Unix seconds), from now() text.
function A.wake(cur, s, now_text)
  local env = env_of(cur, s)
  local now = ts_parse(now_text) or 0
  if s.Seconds ~= nil then return now + s.Seconds end
  if s.Timestamp ~= nil then return ts_parse(s.Timestamp) or runtime("invalid Timestamp") end
  local eff = input_path(cur.data, s, env)
  if s.SecondsPath ~= nil then
    local v = get(eff, s.SecondsPath, env)
    if type(v) ~= "number" then
      runtime("The SecondsPath parameter does not reference a valid integer value: " .. s.SecondsPath .. " == " .. enc(v))
    end
    if v < 0 then
      -- the event id: the state's place in the run (the structured form knows it
      -- only on a straight path from the start, as _entered)
      local at = s._entered
      if at == nil and cur.n > 0 then at = cur.n + 1 end
      runtime("An error occurred while executing the state '" .. s._name .. "'" ..
        (at and (" (entered at the event id #" .. at .. ")") or "") ..
        ". The SecondsPath parameter references a negative value: " .. s.SecondsPath .. " == " .. fmt_value(v))
    end
    return now + v
  end
  local v = get(eff, s.TimestampPath, env)
  local t = ts_parse(v)
  if not t then runtime("The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: " .. s.TimestampPath .. " == " .. enc(v)) end
  return t
end

-- The end of a retry pause: now (RFC 3339 text) + secs, in Unix seconds.
function A.after(now_text, secs) return (ts_parse(now_text) or 0) + secs end

function A.wait(cur, s)
  -- validates the same way as wake (its errors come first), then moves on
  A.wake(cur, s, "1970-01-01T00:00:00Z")
  local env = env_of(cur, s)
  local eff = input_path(cur.data, s, env)
  local vars = assign(cur, s, eff, env)
  return advance(cur, s, output_path(eff, s, env), vars)
end

-- Task: the effective input and the call number (for per-call mocks).
-- A `.waitForTaskToken` Task gets a token, $$.Task.Token in its Parameters:
-- "SIGNAL:UUID:WORKFLOW-ID", where SIGNAL is the name of the signal its wait
-- takes (the Task's step id) and WORKFLOW-ID the run's id, so that whoever
-- holds the token can answer with
--   wfdsl signal WORKFLOW-ID SIGNAL '{"token": TOKEN, "output": ...}'
-- (or "error"/"cause" to fail the Task). TimeoutSecondsPath gives `timeout`.
function A.task_in(cur, s)
  local token
  if s._token_signal then token = s._token_signal .. ":" .. uuid() .. ":" .. tostring(run.id) end
  local env = env_of(cur, s, token and {Task = {Token = token}} or nil)
  local eff = input_path(cur.data, s, env)
  if s.Parameters ~= nil then eff = payload(s.Parameters, eff, env, PARAM_FAIL) end
  local calls = cur.calls or {}
  local r = {input = eff, call = (calls[s._name] or 0) + 1, token = token}
  -- seconds from a path of the state's input: a positive integer, else States.Runtime
  local function seconds(field)
    local v = get(cur.data, s[field], env)
    if math.tointeger(v) == nil or v < 1 then
      runtime("An error occurred while executing the state '" .. s._name .. "'. The " .. field .. " field refers to value " ..
        enc(v) .. " which is not a positive integer")
    end
    return math.tointeger(v)
  end
  if s.TimeoutSecondsPath then
    r.timeout = seconds("TimeoutSecondsPath")
  elseif s._race then
    r.timeout = s.TimeoutSeconds
  end
  if s.HeartbeatSecondsPath then r.heartbeat = seconds("HeartbeatSecondsPath") end
  return r
end

local NO_HEARTBEAT = "no heartbeat or answer for the task token within "
local function no_heartbeat(seconds) return NO_HEARTBEAT .. seconds .. " seconds" end

-- HeartbeatSecondsPath: each wait for the answer races a durable timer of
-- task.heartbeat seconds (beat: that race, a parallel in mode any). The
-- answer (a heartbeat, SendTaskSuccess or SendTaskFailure), or States.Timeout
-- when the timer won, which States.HeartbeatTimeout also catches.
function A.beat(task, beat)
  if is_obj(beat) and beat.timer ~= nil then raise("States.Timeout", no_heartbeat(task.heartbeat)) end
  if is_obj(beat) then return beat.answer end
  return nil
end

-- A Task raced against its timeout: the winner of the race (a parallel in
-- mode any), which is the timer (States.Timeout), the failure the call
-- branch caught (raised again), or the call's output.
function A.raced(race)
  if not is_obj(race) or race.call == nil then raise("States.Timeout", nil) end
  local c = race.call
  if is_obj(c) and c.asl_failed ~= nil then error(c.asl_failed, 0) end
  return c
end

-- Has the wait of a `.waitForTaskToken` Task got its answer? A signal that
-- carries another token (an answer to an earlier call of the Task) is
-- skipped; one without a token ends the wait, and task_token_out fails.
function A.token_done(task, sig)
  if not is_obj(sig) or type(sig.token) ~= "string" then return true end
  if sig.heartbeat == true and sig.token == task.token then return false end
  return sig.token == task.token
end

-- The answer of a `.waitForTaskToken` Task: {"token", "output"} succeeds
-- with output; {"token", "error", "cause"} fails with that error.
function A.task_token_out(cur, s, task, sig)
  if not is_obj(sig) or type(sig.token) ~= "string" then
    runtime("The answer to the task token of state '" .. s._name .. "' must be a JSON object with a \"token\": got " .. enc(sig))
  end
  if sig.error ~= nil or sig.cause ~= nil then
    local e = sig.error
    if e == nil or e == NULL then e = "States.TaskFailed" end
    local c = sig.cause
    if c ~= nil and c ~= NULL and type(c) ~= "string" then c = enc(c) end
    raise(tostring(e), c)
  end
  return A.task_out(cur, s, sig.output)
end

local function finish_result(cur, s, result, env)
  if result == nil then result = NULL end
  if s.ResultSelector ~= nil then result = payload(s.ResultSelector, result, env) end
  local vars = assign(cur, s, result, env)
  local out = output_path(result_path(cur.data, result, s.ResultPath, env), s, env)
  local r = advance(cur, s, out, vars)
  return r
end

local function count_call(cur, s, r)
  if cur.calls then
    local c = {}
    for k, v in pairs(cur.calls) do c[k] = v end
    c[s._name] = (c[s._name] or 0) + 1
    r.calls = c
  end
  return r
end

function A.task_out(cur, s, result)
  local env = env_of(cur, s)
  if s._payload then result = {Payload = result, StatusCode = 200} end
  if s._http and type(result) == "table" then
    result = {StatusCode = result.status, Headers = result.headers, ResponseBody = result.body}
  end
  return count_call(cur, s, finish_result(cur, s, result, env))
end

-- The ASL name and cause of a wfdsl error: a typed ASL error is its type and
-- message; wfdsl's own errors map to States.Timeout, States.Http.StatusCode.N
-- or States.TaskFailed.
function A.error_of(err)
  if type(err) ~= "table" then return "States.Runtime", tostring(err) end
  local m = err.message
  if type(err.type) == "string" and not native(err.type) then
    if m == "" or m == NULL then m = nil end
    return err.type, m
  end
  if err.type == "lua" and type(m) == "string" then
    local j = m:find("{", 1, true)
    if j then
      local ok, v = pcall(json.decode, m:sub(j))
      if ok and is_obj(v) and v.asl_error ~= nil then
        local c = v.cause
        if c == NULL then c = nil end
        return v.asl_error, c
      end
    end
  end
  if err.type == "timeout" or err.type == "signal.timeout" then return "States.Timeout", m end
  if type(err.type) == "string" then
    local st = err.type:match("^http%.(%d+)$")
    if st then return "States.Http.StatusCode." .. st, m end
  end
  return "States.TaskFailed", m
end

local function matches(names, e, heartbeat)
  for _, n in ipairs(names or {}) do
    if n == e then return true end
    if heartbeat and n == "States.HeartbeatTimeout" then return true end
    if n == "States.ALL" and e ~= "States.Runtime" and e ~= "States.DataLimitExceeded" then return true end
    if n == "States.TaskFailed" and e ~= "States.Runtime" and e ~= "States.Timeout"
      and e:sub(1, 7) ~= "States." then return true end
  end
  return false
end
A.matches = matches

-- A failed Task, Parallel or Map: retry it, catch it, or raise it again.
-- s._waits = false makes every retry pause 0 s (test runs).
function A.on_error(cur, s, err)
  local name, cause = A.error_of(err)
  -- the wait of a `.waitForTaskToken` Task with HeartbeatSeconds timed out:
  -- States.Timeout, which States.HeartbeatTimeout also matches
  local heartbeat = s.HeartbeatSeconds ~= nil and type(err) == "table" and err.type == "signal.timeout"
  if heartbeat then cause = no_heartbeat(s.HeartbeatSeconds) end
  -- (with HeartbeatSecondsPath, A.beat raised it: its cause says so)
  if s.HeartbeatSecondsPath ~= nil and name == "States.Timeout" and type(cause) == "string"
    and cause:sub(1, #NO_HEARTBEAT) == NO_HEARTBEAT then
    heartbeat = true
  end
  local env = env_of(cur, s)
  if name ~= "States.Runtime" then
    local counts = (cur.retry and cur.retry.state == s._name and cur.retry.counts) or {}
    for i, rt in ipairs(s.Retry or {}) do
      if matches(rt.ErrorEquals, name, heartbeat) then
        local max = rt.MaxAttempts
        if max == nil then max = 3 end
        local done = counts[tostring(i)] or 0
        if done < max then
          local interval = rt.IntervalSeconds or 1
          local delay = interval * (rt.BackoffRate or 2.0) ^ done
          if rt.MaxDelaySeconds and delay > rt.MaxDelaySeconds then delay = rt.MaxDelaySeconds end
          if rt.JitterStrategy == "FULL" then delay = delay * random() end
          local nc = {}
          for k, v in pairs(counts) do nc[k] = v end
          nc[tostring(i)] = done + 1
          local r = {n = cur.n + 1, next = s._name, data = cur.data, vars = cur.vars, calls = cur.calls,
                     retry = {state = s._name, counts = nc, total = ((cur.retry and cur.retry.total) or 0) + 1}}
          if s._task then r = count_call(cur, s, r) end
          if s._no_retry_wait then delay = 0 end
          r.delay = delay
          return r
        end
        break
      end
    end
    for _, c in ipairs(s.Catch or {}) do
      if matches(c.ErrorEquals, name, heartbeat) then
        local eo = {Error = name, Cause = cause}
        if cause == nil then eo.Cause = NULL end
        local vars = cur.vars
        if c.Assign ~= nil then vars = assign(cur, c, eo, env) end
        local out = result_path(cur.data, eo, c.ResultPath, env)
        local r = {n = cur.n + 1, next = c.Next, data = out, vars = vars, calls = cur.calls}
        if s._task then r = count_call(cur, s, r) end
        return r
      end
    end
  end
  raise(name, cause)
end

-- Parallel and Map: the effective input.
function A.par_in(cur, s)
  local env = env_of(cur, s)
  local eff = input_path(cur.data, s, env)
  if s.Parameters ~= nil then eff = payload(s.Parameters, eff, env, PARAM_FAIL) end
  return {input = eff, vars = cur.vars}
end

function A.par_out(cur, s, n, ...)
  local env = env_of(cur, s)
  local res = {}
  for i = 1, n do
    local v = select(i, ...)
    if v == nil then v = NULL end
    res[i] = v
  end
  return finish_result(cur, s, arr(res), env)
end

function A.map_in(cur, s)
  local env = env_of(cur, s)
  local eff = input_path(cur.data, s, env)
  local items = eff
  if s.ItemsPath ~= nil then items = get(eff, s.ItemsPath, env) end
  if not is_arr(items) then
    runtime("Map state '" .. s._name .. "': the items (" .. tostring(s.ItemsPath or "$") .. ") are not an array: " .. enc(items))
  end
  local sel = s.ItemSelector
  if sel == nil then sel = s.Parameters end
  local out = {}
  for i, v in ipairs(items) do
    if sel ~= nil then
      local ienv = env_of(cur, s, {Map = {Item = {Index = i - 1, Value = v}}})
      out[i] = payload(sel, eff, ienv, PARAM_FAIL)
    else
      out[i] = v
    end
  end
  local function path_number(field, what, ok)
    local v = get(eff, s[field], env)
    if not ok(v) then
      runtime("An error occurred while executing the state '" .. s._name .. "'. The " .. field ..
        " field refers to value " .. enc(v) .. " which is not " .. what)
    end
    return v
  end
  local r = {items = arr(out), vars = cur.vars}
  local function count(v) return math.tointeger(v) ~= nil and v >= 0 end
  if s.MaxConcurrencyPath then
    local mc = math.tointeger(path_number("MaxConcurrencyPath", "a non-negative integer", count))
    -- at most mc iterations at once: mc lanes, each running its items in turn
    local n = #out
    if mc > 0 and mc < n then n = mc end
    if s._one_at_a_time and n > 1 then n = 1 end
    if n > 10000 then n = 10000 end
    local lanes = {}
    for k = 1, n do lanes[k] = arr() end
    for i, v in ipairs(out) do local l = lanes[(i - 1) % n + 1]; l[#l + 1] = v end
    r.lanes = arr(lanes)
  end
  if s.ToleratedFailureCount ~= nil then r.tolerated_count = s.ToleratedFailureCount end
  if s.ToleratedFailureCountPath then
    r.tolerated_count = math.tointeger(path_number("ToleratedFailureCountPath", "a non-negative integer", count))
  end
  if s.ToleratedFailurePercentage ~= nil then r.tolerated_percentage = s.ToleratedFailurePercentage end
  if s.ToleratedFailurePercentagePath then
    r.tolerated_percentage = path_number("ToleratedFailurePercentagePath", "a number from 0 to 100",
      function(v) return type(v) == "number" and v >= 0 and v <= 100 end)
  end
  return r
end

-- A failed iteration of a Map that tolerates failures: its error output.
function A.item_failed(err)
  local name, cause = A.error_of(err)
  return {asl_item_failed = {Error = name, Cause = cause == nil and NULL or cause}}
end

-- The results of a Map, in the order of its items (lanes put back in order);
-- with tolerated failures, the failed items' slots hold their error output
-- and the Map fails with States.ExceedToleratedFailureThreshold when there
-- are more failures than tolerated.
local function map_results(s, results, mi)
  local res = {}
  if mi and mi.lanes then
    local n = #mi.lanes
    for k, lane in ipairs(results or {}) do
      for j, v in ipairs(lane) do res[k + (j - 1) * n] = v end
    end
  else
    for i, v in ipairs(results or {}) do res[i] = v end
  end
  if mi and (mi.tolerated_count ~= nil or mi.tolerated_percentage ~= nil) then
    local failed = 0
    for i, v in ipairs(res) do
      if is_obj(v) and v.asl_item_failed ~= nil then failed = failed + 1; res[i] = v.asl_item_failed end
    end
    local over = mi.tolerated_count ~= nil and failed > mi.tolerated_count
    if mi.tolerated_percentage ~= nil and #res > 0 and failed * 100 / #res > mi.tolerated_percentage then over = true end
    if over then
      raise("States.ExceedToleratedFailureThreshold", "The Map state '" .. s._name .. "' had " .. failed .. " failed of " ..
        #res .. " items, more than the tolerated failure threshold")
    end
  end
  return arr(res)
end

function A.map_out(cur, s, results, mi)
  return finish_result(cur, s, map_results(s, results, mi), env_of(cur, s))
end

-- ---- the structured form ---------------------------------------------------
-- `wfdsl import stepfunctions` writes a machine as steps that pass the JSON
-- data along directly (no dispatcher record): each state's step reads the
-- output of the step before it. These helpers take that data.

-- The ASL variables of the structured form: the workflow variable asl_vars.
function A.vars()
  local v = rawget(_G, "vars")
  if type(v) == "table" and type(v.asl_vars) == "table" then return v.asl_vars end
  return {}
end

local function rec(data)
  if data == nil then data = NULL end
  return {n = 0, data = data, vars = A.vars(), calls = {}}
end

-- Assign: the variables with vals (already evaluated) added; a `set` of
-- asl_vars makes them the new ones.
function A.assign(vals)
  local o = {}
  for k, v in pairs(A.vars()) do o[k] = v end
  for k, v in pairs(vals) do o[k] = v end
  return o
end

-- The variables after a Choice: the Assign of the rule that matches, else
-- the state's.
function A.choice_vars(data, s) return A.choice(rec(data), s).vars end

-- A path, context path ($$) or intrinsic call evaluated against data, as a
-- payload template field does; field ("x.$") names it in the error.
function A.get(data, p, field, state)
  if data == nil then data = NULL end
  local env = {name = state}
  if field == nil then return get(data, p, env) end
  return copy(eval_dollar(p, data, env, field))
end
-- The same for a field of Parameters: a path that selects nothing is
-- States.ParameterPathFailure.
function A.param(data, p, field, state)
  if data == nil then data = NULL end
  return copy(eval_dollar(p, data, {name = state}, field, PARAM_FAIL))
end
-- An intrinsic function call: eval(data, "States.Format('Hi {}', $.name)").
function A.eval(data, expr, state)
  if data == nil then data = NULL end
  return copy(eval_dollar(expr, data, {name = state}, expr))
end

-- A Choice rule with one comparison: test(data, "$.status", "StringEquals", "FAILED").
function A.test(data, p, op, arg, state)
  if data == nil then data = NULL end
  return rule({Variable = p, [op] = arg}, data, {name = state})
end

-- No Choice rule matched and there is no Default.
function A.no_choice() raise("States.NoChoiceMatched", "No Matches!") end

-- ResultPath then OutputPath: the state's output from its input and result.
function A.output(data, result, s)
  if data == nil then data = NULL end
  if result == nil then result = NULL end
  return output_path(result_path(data, result, s.ResultPath, {}), s, {})
end

-- Does ResultPath p apply to data (the state's input)? true, or
-- States.ResultPathMatchFailure.
function A.result_fits(data, p)
  if data == nil then data = NULL end
  result_path(data, NULL, p, {})
  return true
end

-- The output of a Pass, Wait or Succeed that has only InputPath/OutputPath.
function A.paths(data, s)
  if data == nil then data = NULL end
  return output_path(input_path(data, s, {}), s, {})
end

-- Wait: the time to wake (Unix seconds), and its checks alone.
function A.wake_at(data, s, now_text) return A.wake(rec(data), s, now_text) end
function A.wait_check(data, s)
  A.wake(rec(data), s, "1970-01-01T00:00:00Z")
  return data
end

-- The call number of a Task (or the attempt of a Parallel or Map): one more
-- than the last one of this step.
function A.next_call(last) return ((type(last) == "table" and last.call) or 0) + 1 end

-- A Fail state with ErrorPath or CausePath.
function A.fail_with(data, s) A.fail(rec(data), s) end

-- A failed Task, Parallel or Map (attempt: its input step, with its call
-- number; last: this handler's previous answer): {call, retry = true, delay}
-- to try again, {call, next = STATE, data} when a Catch takes it, or the
-- error raised again as an ASL error.
local function call_of(attempt) return is_obj(attempt) and attempt.call or 0 end
function A.handle(err, attempt, last, data, s)
  if s == nil then raise(A.error_of(err)) end -- no Retry or Catch
  if data == nil then data = NULL end
  -- this attempt's number: its input step's, or (when that step failed, so
  -- that it still holds the attempt before) one more than the last handled
  local call = call_of(attempt)
  if is_obj(last) and last.call >= call then call = last.call + 1 end
  local counts = {}
  if is_obj(last) and last.retry and last.call == call - 1 then counts = last.counts end
  local cur = {n = 0, data = data, vars = A.vars(), calls = nil,
               retry = {state = s._name, counts = counts, total = 0}}
  local r = A.on_error(cur, s, err)
  if r.next == s._name and r.retry then
    return {call = call, retry = true, counts = r.retry.counts, delay = r.delay or 0}
  end
  return {call = call, next = r.next, data = r.data, vars = r.vars}
end

-- Is the attempt being retried (its handler said so)?
function A.retrying(attempt, last)
  return is_obj(last) and last.call >= call_of(attempt) and last.retry == true
end

-- The Catch target that took this attempt's error, or nil.
function A.caught(attempt, last)
  if is_obj(last) and last.call >= call_of(attempt) and last.next ~= nil then return last.next end
  return nil
end

-- The JSON array of n values (nil is null): a Parallel's branch outputs.
function A.array(n, ...)
  local o = {}
  for i = 1, n do
    local v = select(i, ...)
    if v == nil then v = NULL end
    o[i] = v
  end
  return arr(o)
end

-- Map: the items (ItemsPath, ItemSelector/Parameters), the attempt number.
function A.map_items(data, s, last)
  local r = A.map_in(rec(data), s)
  r.vars = nil
  r.call = A.next_call(last)
  return r
end

-- The results of a Map run in lanes or with tolerated failures (items: its
-- input step): in the order of the items, failed ones as their error output,
-- or States.ExceedToleratedFailureThreshold.
function A.map_results(results, items, name) return map_results({_name = name}, results, items) end

-- The value if cond holds (a loop that went round again), else other.
function A.either(cond, value, other)
  if cond ~= nil and cond ~= false then return value end
  return other
end

-- A lambda-like mock for tests: the n-th entry of a sequence (the last repeats).
function A.mock(spec, task)
  if spec.sequence then
    local seq = spec.sequence
    spec = seq[math.min(task.call, #seq)]
  end
  if spec.error ~= nil then raise(spec.error, spec.cause) end
  if spec.echo then return task.input end
  if spec.result == nil then return NULL end
  return spec.result
end

return A
