---@mod diffill.health :checkhealth diffill

local M = {}

---@param cmd string[]
local function check_server(cmd)
  local program = cmd[1]
  if vim.fn.executable(program) == 0 then
    vim.health.error(("server not found: %q is not executable"):format(program), {
      "install diffill (pip install -e . in its repository) or set `cmd` in setup()",
    })
    return false
  end
  vim.health.ok(("server found: %s"):format(vim.fn.exepath(program)))
  return true
end

---@param cmd string[]
local function check_model(cmd)
  local lsp = require("diffill.lsp")
  for _, client in ipairs(vim.lsp.get_clients({ name = lsp.name })) do
    local status = lsp.status[client.id]
    if status and status.error then
      vim.health.error("the model did not load: " .. status.error)
    elseif status and status.model then
      vim.health.ok(("model loaded: %s on %s%s"):format(status.model, status.device or "?", status.busy and " (busy)" or ""))
    else
      vim.health.warn("the server is running; the model is still loading")
    end
    return
  end
  -- No server running: ask the command line what it would load.
  if cmd[2] ~= "serve" then
    vim.health.info("no diffill server is running; open a supported file to start one")
    return
  end
  local info = vim.system({ cmd[1], "info" }, { text = true }):wait(30000)
  if info.code ~= 0 then
    vim.health.error("`" .. cmd[1] .. " info` failed: " .. vim.trim(info.stderr or ""))
    return
  end
  local model = (info.stdout or ""):match("\nmodel%s+([^\n]+)")
  local parameters = (info.stdout or ""):match("\nparameters%s+([^\n]+)")
  if model and parameters then
    -- `diffill info` counts the parameters by loading the model, so it loads.
    vim.health.ok(("model loads: %s, %s parameters (no server running now)"):format(model, parameters))
  else
    vim.health.warn("`" .. cmd[1] .. " info` names no model:\n" .. info.stdout)
  end
end

function M.check()
  vim.health.start("diffill")
  local v = vim.version()
  local version = ("%d.%d.%d"):format(v.major, v.minor, v.patch)
  if vim.fn.has("nvim-0.11") == 0 then
    vim.health.error("Neovim " .. version .. " is too old: diffill needs 0.11 or newer")
  else
    vim.health.ok("Neovim " .. version)
  end
  if vim.lsp.inline_completion then
    vim.health.ok("inline completion available (vim.lsp.inline_completion)")
  else
    vim.health.info("inline completion needs Neovim 0.12 (vim.lsp.inline_completion)")
  end
  local cmd = require("diffill.config").current.cmd
  if not vim.lsp.config["diffill"] then
    vim.health.warn("setup() has not run: require('diffill').setup()")
  end
  if check_server(cmd) then
    check_model(cmd)
  end
end

return M
