---@mod diffill.proposal Confirm mode: a result shown as a proposal until accepted or rejected.
---
--- The text the edits would remove is highlighted as removed, and the lines as they would
--- read afterwards are drawn as virtual lines below; nothing in the buffer changes until
--- :DiffillAccept applies the server's (minimal) edits.

local positions = require("diffill.positions")

local M = {}

M.ns = vim.api.nvim_create_namespace("diffill.proposal")

---@class diffill.Proposal
---@field edits lsp.TextEdit[]  the server's minimal edits
---@field encoding 'utf-8'|'utf-16'|'utf-32'
---@field tick integer          the buffer's changedtick the edits were computed for
---@field title string

--- Open proposals by buffer number.
---@type table<integer, diffill.Proposal>
M.proposals = {}

--- The lines `first`..`last` (0-based, inclusive) as they would read after `edits`,
--- computed by applying them to a scratch copy: Neovim's own edit arithmetic, not ours.
---@param bufnr integer
---@param edits lsp.TextEdit[]
---@param encoding string
---@param first integer
---@param last integer
---@return string[]
local function lines_after(bufnr, edits, encoding, first, last)
  local before = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  local scratch = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(scratch, 0, -1, false, before)
  vim.lsp.util.apply_text_edits(edits, scratch, encoding)
  local after = vim.api.nvim_buf_get_lines(scratch, 0, -1, false)
  vim.api.nvim_buf_delete(scratch, { force = true })
  return vim.list_slice(after, first + 1, last + 1 + #after - #before)
end

--- Show `edits` on `bufnr` as a proposal (replacing any earlier one).
---@param bufnr integer
---@param proposal diffill.Proposal
function M.show(bufnr, proposal)
  M.clear(bufnr)
  M.proposals[bufnr] = proposal
  local first, last = math.huge, -1
  for _, edit in ipairs(proposal.edits) do
    local start_row, start_col = positions.to_byte(bufnr, edit.range.start, proposal.encoding)
    local end_row, end_col = positions.to_byte(bufnr, edit.range["end"], proposal.encoding)
    first, last = math.min(first, start_row), math.max(last, end_row)
    if start_row ~= end_row or start_col ~= end_col then
      vim.api.nvim_buf_set_extmark(bufnr, M.ns, start_row, start_col, {
        end_row = end_row,
        end_col = end_col,
        hl_group = "DiffillRemoved",
        strict = false,
      })
    end
  end
  if last < 0 then
    return
  end
  local virt_lines = {}
  for i, line in ipairs(lines_after(bufnr, proposal.edits, proposal.encoding, first, last)) do
    virt_lines[i] = { { line, "DiffillAdded" } }
  end
  vim.api.nvim_buf_set_extmark(bufnr, M.ns, first, 0, {
    virt_text = { { ("  %s: :DiffillAccept / :DiffillReject"):format(proposal.title), "DiffillHint" } },
  })
  vim.api.nvim_buf_set_extmark(bufnr, M.ns, last, 0, { virt_lines = virt_lines })
end

--- Drop the proposal of `bufnr` and its drawing.
---@param bufnr integer
function M.clear(bufnr)
  M.proposals[bufnr] = nil
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  end
end

--- Apply the proposal of `bufnr`, unless the buffer changed since it was computed.
---@param bufnr integer
---@return boolean applied, string? reason
function M.accept(bufnr)
  local proposal = M.proposals[bufnr]
  if not proposal then
    return false, "no diffill proposal in this buffer"
  end
  M.clear(bufnr)
  if vim.api.nvim_buf_get_changedtick(bufnr) ~= proposal.tick then
    return false, "the buffer changed since the proposal was made; it was discarded"
  end
  vim.lsp.util.apply_text_edits(proposal.edits, bufnr, proposal.encoding)
  return true
end

--- Discard the proposal of `bufnr`.
---@param bufnr integer
---@return boolean rejected, string? reason
function M.reject(bufnr)
  if not M.proposals[bufnr] then
    return false, "no diffill proposal in this buffer"
  end
  M.clear(bufnr)
  return true
end

return M
