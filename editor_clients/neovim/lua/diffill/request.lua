---@mod diffill.request One diffill edit: ask the server, then propose or apply its result.
---
--- The server owns the editing: `textDocument/codeAction` names the span it would change
--- (the placeholder under the cursor, the syntax error on the line, the selection), and
--- `codeAction/resolve` runs the model and returns the edit *without applying it*, which
--- is what confirm mode needs. The client only checks that the buffer did not change
--- meanwhile (`changedtick`), then shows a proposal or applies the edits.

local lsp = require("diffill.lsp")
local preview = require("diffill.preview")
local proposal = require("diffill.proposal")

local M = {}

---@alias diffill.Intent 'fill'|'rewrite'|'fix'

---@alias diffill.Outcome
---| 'applied'    the edits are in the buffer
---| 'proposed'   a proposal waits for :DiffillAccept or :DiffillReject
---| 'unchanged'  the server had nothing to change (it says why in a message)
---| 'none'       nothing to act on at this place
---| 'stale'      the buffer changed while the model ran; the result was discarded
---| 'cancelled'
---| 'error'

---@class diffill.Running
---@field client vim.lsp.Client
---@field intent diffill.Intent
---@field tick integer      the buffer's changedtick when the request was made
---@field id integer?       the id of the request in flight

--- The request in flight for each buffer (one at a time per buffer).
---@type table<integer, diffill.Running>
M.running = {}

local KINDS = { fill = "refactor.rewrite", rewrite = "refactor.rewrite", fix = "quickfix" }
local NOTHING = {
  fill = "no placeholder here (pass, ..., # TODO, raise NotImplementedError, an empty body)",
  rewrite = "nothing to rewrite: select some code",
  fix = "no syntax error here",
}
-- JSON-RPC / LSP error codes the server answers a resolve with.
local REQUEST_CANCELLED, CONTENT_MODIFIED = -32800, -32801

---@param bufnr integer
---@param outcome diffill.Outcome
---@param reason string?
local function finish(bufnr, outcome, reason)
  M.running[bufnr] = nil
  preview.clear(bufnr)
  if reason and outcome ~= "cancelled" then
    local level = outcome == "error" and vim.log.levels.ERROR or vim.log.levels.WARN
    vim.notify("diffill: " .. reason, level)
  end
  -- For statuslines, user scripts and the tests: the request is over.
  vim.api.nvim_exec_autocmds("User", {
    pattern = "DiffillDone",
    data = { bufnr = bufnr, outcome = outcome, reason = reason },
    modeline = false,
  })
end

--- The edits of a WorkspaceEdit that target `bufnr`.
---@param edit lsp.WorkspaceEdit
---@param bufnr integer
---@return lsp.TextEdit[]
local function edits_for(edit, bufnr)
  local found = {}
  for _, change in ipairs(edit.documentChanges or {}) do
    if change.textDocument and vim.uri_to_bufnr(change.textDocument.uri) == bufnr then
      vim.list_extend(found, change.edits)
    end
  end
  for uri, edits in pairs(edit.changes or {}) do
    if vim.uri_to_bufnr(uri) == bufnr then
      vim.list_extend(found, edits)
    end
  end
  return found
end

---@param bufnr integer
---@param running diffill.Running
---@param action lsp.CodeAction
---@param confirm boolean
local function resolve(bufnr, running, action, confirm)
  local client = running.client
  local ok, id = client:request("codeAction/resolve", action, function(err, resolved)
    if M.running[bufnr] ~= running then
      return -- cancelled meanwhile; already reported
    end
    if err then
      if err.code == REQUEST_CANCELLED then
        return finish(bufnr, "cancelled")
      elseif err.code == CONTENT_MODIFIED then
        return finish(bufnr, "stale", "the buffer changed while the model ran; result discarded")
      end
      return finish(bufnr, "error", err.message)
    end
    if not (resolved and resolved.edit) then
      return finish(bufnr, "unchanged") -- the server said why in a message
    end
    if not vim.api.nvim_buf_is_valid(bufnr) or vim.api.nvim_buf_get_changedtick(bufnr) ~= running.tick then
      return finish(bufnr, "stale", "the buffer changed while the model ran; result discarded")
    end
    local edits = edits_for(resolved.edit, bufnr)
    if #edits == 0 then
      return finish(bufnr, "unchanged")
    end
    if confirm then
      proposal.show(bufnr, {
        edits = edits,
        encoding = client.offset_encoding,
        tick = running.tick,
        title = action.title,
      })
      return finish(bufnr, "proposed")
    end
    vim.lsp.util.apply_text_edits(edits, bufnr, client.offset_encoding)
    finish(bufnr, "applied")
  end, bufnr)
  if not ok then
    return finish(bufnr, "error", "the server has stopped")
  end
  running.id = id
end

---@class diffill.RunOpts
---@field bufnr integer
---@field range lsp.Range   in the client's position encoding
---@field strength number?  rewrite only: the share of the span re-noised, in (0, 1]
---@field confirm boolean

--- Ask the server for `intent` over `opts.range`; the outcome arrives as the
--- `User DiffillDone` autocommand (data: bufnr, outcome, reason).
---@param intent diffill.Intent
---@param opts diffill.RunOpts
function M.run(intent, opts)
  local bufnr = opts.bufnr
  local client, why = lsp.client(bufnr)
  if not client then
    return finish(bufnr, "error", why)
  end
  if M.running[bufnr] then
    vim.notify("diffill: a request is already running in this buffer (:DiffillCancel stops it)", vim.log.levels.WARN)
    return
  end
  proposal.clear(bufnr) -- a new request supersedes an unanswered proposal
  ---@type diffill.Running
  local running = { client = client, intent = intent, tick = vim.api.nvim_buf_get_changedtick(bufnr) }
  M.running[bufnr] = running
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = opts.range,
    context = { diagnostics = {}, only = { KINDS[intent] }, triggerKind = 1 },
  }
  local ok = client:request("textDocument/codeAction", params, function(err, actions)
    if M.running[bufnr] ~= running then
      return
    end
    if err then
      return finish(bufnr, "error", err.message)
    end
    local action ---@type lsp.CodeAction?
    for _, candidate in ipairs(actions or {}) do
      -- The action's data is the server's own {uri, range, intent, version}.
      if candidate.kind == KINDS[intent] and type(candidate.data) == "table" and candidate.data.intent == intent then
        action = candidate
        break
      end
    end
    if not action then
      return finish(bufnr, "none", NOTHING[intent])
    end
    if opts.strength then
      action.data.strength = opts.strength
    end
    resolve(bufnr, running, action, opts.confirm)
  end, bufnr)
  if not ok then
    finish(bufnr, "error", "the server has stopped")
  end
end

--- Stop the request running in `bufnr`; its result, should it still arrive, is dropped.
---@param bufnr integer
---@return boolean cancelled
function M.cancel(bufnr)
  local running = M.running[bufnr]
  if not running then
    return false
  end
  if running.id then
    running.client:cancel_request(running.id)
  end
  finish(bufnr, "cancelled")
  return true
end

return M
