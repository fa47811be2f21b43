---@mod diffill A Neovim client for diffill, code editing with a masked diffusion model.
---
--- require("diffill").setup({ cmd = { "diffill", "serve" }, confirm = true })

local config = require("diffill.config")

local M = {}

local function define_highlights()
  local links = {
    DiffillRemoved = "DiffDelete",
    DiffillAdded = "DiffAdd",
    DiffillHint = "Comment",
    DiffillPreview = "DiffText",
    DiffillPreviewLabel = "Comment",
    DiffillPreviewSpan = "Comment",
  }
  for group, target in pairs(links) do
    vim.api.nvim_set_hl(0, group, { link = target, default = true })
  end
end

---@param keymaps diffill.Keymaps|false
local function map_keys(keymaps)
  if not keymaps then
    return
  end
  local maps = {
    { "fill", { "n", "x" }, ":DiffillFill<CR>", "diffill: fill the placeholder" },
    { "rewrite", "x", ":DiffillRewrite<CR>", "diffill: rewrite the selection" },
    { "fix", "n", "<Cmd>DiffillFix<CR>", "diffill: fix the syntax error" },
    { "accept", "n", "<Cmd>DiffillAccept<CR>", "diffill: accept the proposal" },
    { "reject", "n", "<Cmd>DiffillReject<CR>", "diffill: reject the proposal" },
    { "cancel", "n", "<Cmd>DiffillCancel<CR>", "diffill: cancel the request" },
  }
  for _, map in ipairs(maps) do
    local lhs = keymaps[map[1]]
    if lhs then
      vim.keymap.set(map[2], lhs, map[3], { desc = map[4], silent = true })
    end
  end
end

--- Merge `opts` over the defaults (errors name an invalid option), then start the server
--- for the configured filetypes.
---@param opts diffill.Config|table|nil
function M.setup(opts)
  local resolved = config.resolve(opts)
  config.current = resolved
  define_highlights()
  local group = vim.api.nvim_create_augroup("diffill", { clear = true })
  vim.api.nvim_create_autocmd("ColorScheme", { group = group, callback = define_highlights })
  map_keys(resolved.keymaps)
  require("diffill.lsp").start(resolved)
end

---@param bufnr integer?
---@return integer
local function buffer(bufnr)
  return (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
end

---@class diffill.EditOpts
---@field bufnr integer?     default: the current buffer
---@field range lsp.Range?   default: the cursor (fill), its line (fix, rewrite)
---@field strength number?   rewrite: the share of the span re-noised, in (0, 1]

---@param intent diffill.Intent
---@param opts diffill.EditOpts?
local function edit(intent, opts)
  opts = opts or {}
  local bufnr = buffer(opts.bufnr)
  local range = opts.range
  if not range then
    local client = require("diffill.lsp").client(bufnr)
    local positions = require("diffill.positions")
    local encoding = client and client.offset_encoding or "utf-16"
    if intent == "fill" then
      range = positions.cursor_range(bufnr, encoding)
    else
      local line = vim.api.nvim_win_get_cursor(0)[1]
      range = positions.line_range(bufnr, line, line, encoding)
    end
  end
  require("diffill.request").run(intent, {
    bufnr = bufnr,
    range = range,
    strength = opts.strength,
    confirm = config.current.confirm,
  })
end

--- Fill the placeholder under the cursor, or the one in `opts.range`.
---@param opts diffill.EditOpts?
function M.fill(opts)
  edit("fill", opts)
end

--- Regenerate `opts.range` (default: the cursor line) from its context.
---@param opts diffill.EditOpts?
function M.rewrite(opts)
  edit("rewrite", opts)
end

--- Repair the syntax error on the cursor line, or the one in `opts.range`.
---@param opts diffill.EditOpts?
function M.fix(opts)
  edit("fix", opts)
end

---@param ok boolean
---@param why string?
local function report(ok, why)
  if not ok and why then
    vim.notify("diffill: " .. why, vim.log.levels.WARN)
  end
  return ok
end

--- Apply the proposal in `bufnr` (default: current buffer).
---@param bufnr integer?
---@return boolean applied
function M.accept(bufnr)
  return report(require("diffill.proposal").accept(buffer(bufnr)))
end

--- Discard the proposal in `bufnr` (default: current buffer).
---@param bufnr integer?
---@return boolean rejected
function M.reject(bufnr)
  return report(require("diffill.proposal").reject(buffer(bufnr)))
end

--- Cancel the request running in `bufnr` (default: current buffer); the buffer is left
--- as it is.
---@param bufnr integer?
---@return boolean cancelled
function M.cancel(bufnr)
  return report(require("diffill.request").cancel(buffer(bufnr)), "no diffill request is running here")
end

return M
