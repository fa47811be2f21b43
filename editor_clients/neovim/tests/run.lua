-- Runs diffill's Neovim test cases inside the headless Neovim that sources this file.
--
-- Environment: DIFFILL_NVIM_CMD (JSON list: the server command), DIFFILL_NVIM_CASES
-- (comma-separated names from cases.lua), DIFFILL_NVIM_DIR (a scratch folder),
-- DIFFILL_NVIM_RESULTS (where {name = "ok" | error} is written as JSON), and, for the
-- stand-in server, DIFFILL_TEST_GATE (the file that lets a `# slow` run finish).
-- Every wait is for an event (LspAttach, DiffillDone, DiffillStatus, extmarks drawn),
-- bounded so a broken case fails instead of hanging.

local here = debug.getinfo(1, "S").source:sub(2):match("(.*)/")
local results_path = assert(os.getenv("DIFFILL_NVIM_RESULTS"), "DIFFILL_NVIM_RESULTS is not set")
local results = {}

local function write_results()
  local file = assert(io.open(results_path, "w"))
  file:write(vim.json.encode(results))
  file:close()
end

---@class diffill.test.Toolkit
local t = {}

t.dir = assert(os.getenv("DIFFILL_NVIM_DIR"), "DIFFILL_NVIM_DIR is not set")
t.timeout = tonumber(os.getenv("DIFFILL_NVIM_TIMEOUT_MS") or "") or 20000

local done_events = {} ---@type table[]
local statuses = {} ---@type table[]
local attached = {} ---@type table<integer, boolean>

vim.api.nvim_create_autocmd("User", {
  pattern = "DiffillDone",
  callback = function(ev)
    table.insert(done_events, ev.data)
  end,
})
vim.api.nvim_create_autocmd("User", {
  pattern = "DiffillStatus",
  callback = function(ev)
    table.insert(statuses, ev.data)
  end,
})
vim.api.nvim_create_autocmd("LspAttach", {
  callback = function(ev)
    local client = vim.lsp.get_client_by_id(ev.data.client_id)
    if client and client.name == "diffill" then
      attached[ev.buf] = true
    end
  end,
})

--- Wait until `cond()` holds; fail naming `what` after the timeout.
---@param cond fun(): any
---@param what string
function t.wait(cond, what)
  if not vim.wait(t.timeout, cond, 10) then
    error("timed out waiting for " .. what, 2)
  end
end

function t.eq(expected, actual, what)
  if not vim.deep_equal(expected, actual) then
    error(("%s: expected %s, got %s"):format(what or "value", vim.inspect(expected), vim.inspect(actual)), 2)
  end
end

function t.truthy(value, what)
  if not value then
    error(what, 2)
  end
end

local opened = 0
--- Write `text` to a fresh file, edit it and wait until the diffill client attaches.
---@param text string
---@param name string?
---@return integer bufnr
function t.open(text, name)
  opened = opened + 1
  local folder = ("%s/%d"):format(t.dir, opened)
  vim.fn.mkdir(folder, "p")
  local path = folder .. "/" .. (name or "case.py")
  local file = assert(io.open(path, "w"))
  file:write(text)
  file:close()
  vim.cmd.edit(vim.fn.fnameescape(path))
  local bufnr = vim.api.nvim_get_current_buf()
  t.wait(function()
    return attached[bufnr]
  end, "the diffill server to attach")
  return bufnr
end

---@param bufnr integer
---@return string
function t.text(bufnr)
  return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n") .. "\n"
end

--- Wait for the DiffillDone of `bufnr` that came after `seen` finished requests.
---@param bufnr integer
---@param seen integer  from `t.started()` before the request was sent
---@return table done {bufnr, outcome, reason}
function t.finished(bufnr, seen)
  local found
  t.wait(function()
    for i = seen + 1, #done_events do
      if done_events[i].bufnr == bufnr then
        found = done_events[i]
        return true
      end
    end
  end, "the request to finish")
  return found
end

--- Run `start` (which sends a request) and wait for that request's DiffillDone.
---@param bufnr integer
---@param start fun()
---@return table done {bufnr, outcome, reason}
function t.request(bufnr, start)
  local seen = t.started()
  start()
  return t.finished(bufnr, seen)
end

--- How many requests have finished so far (a mark for `t.finished`).
function t.started()
  return #done_events
end

--- Wait until the server reports it is idle again.
---@param seen integer  statuses received before the work began
function t.idle(seen)
  t.wait(function()
    for i = seen + 1, #statuses do
      if statuses[i].busy == false then
        return true
      end
    end
  end, "the server to report it is idle")
end

function t.statuses()
  return #statuses
end

---@param bufnr integer
---@param ns integer
---@return table[] extmarks with details
function t.marks(bufnr, ns)
  return vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })
end

--- The text of every virtual line drawn in `ns`.
function t.virtual_text(bufnr, ns)
  local out = {}
  for _, mark in ipairs(t.marks(bufnr, ns)) do
    for _, line in ipairs(mark[4].virt_lines or {}) do
      local parts = {}
      for _, chunk in ipairs(line) do
        table.insert(parts, chunk[1])
      end
      table.insert(out, table.concat(parts))
    end
  end
  return table.concat(out, "\n")
end

--- Let a `# slow` stand-in run finish.
function t.open_gate()
  local gate = assert(os.getenv("DIFFILL_TEST_GATE"), "DIFFILL_TEST_GATE is not set")
  local file = assert(io.open(gate, "w"))
  file:write("open")
  file:close()
end

local cmd = os.getenv("DIFFILL_NVIM_CMD")

--- setup() with the test server and `opts` over the defaults.
---@param opts table?
function t.setup(opts)
  assert(cmd, "DIFFILL_NVIM_CMD is not set")
  require("diffill").setup(vim.tbl_extend("force", { cmd = vim.json.decode(cmd), settings = { diagnosticsDelayMs = 0 } }, opts or {}))
end

local ok, err = xpcall(function()
  local cases = dofile(here .. "/cases.lua")
  for name in (os.getenv("DIFFILL_NVIM_CASES") or ""):gmatch("[^,]+") do
    local case = cases[name]
    if not case then
      results[name] = "no such case"
    else
      -- Each case starts from a known configuration and an empty buffer list.
      t.setup()
      local passed, why = xpcall(case, debug.traceback, t)
      results[name] = passed and "ok" or tostring(why)
      vim.cmd("silent! %bwipeout!")
    end
    write_results()
  end
end, debug.traceback)
if not ok then
  results["(runner)"] = tostring(err)
end
write_results()
-- Stop the servers the protocol's way (shutdown, exit) rather than closing their pipes.
vim.lsp.stop_client(vim.lsp.get_clients())
vim.wait(5000, function()
  return #vim.lsp.get_clients() == 0
end, 10)
vim.cmd(ok and "qall!" or "cquit! 2")
