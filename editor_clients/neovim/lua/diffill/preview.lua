---@mod diffill.preview The live preview: a span's text while the model denoises it.
---
--- The server sends `diffill/preview` {uri, range, text, step, steps, done} after every
--- denoising step; the span is dimmed and its current text drawn as virtual lines below it,
--- until the last notification (`done`) or a cancellation clears them.

local positions = require("diffill.positions")

local M = {}

M.ns = vim.api.nvim_create_namespace("diffill.preview")

---@class diffill.PreviewParams
---@field uri string
---@field range lsp.Range
---@field text string
---@field step integer
---@field steps integer?
---@field done boolean

--- Draw (or, when done, clear) the preview a notification describes.
---@param params diffill.PreviewParams
function M.show(params)
  local bufnr = vim.uri_to_bufnr(params.uri)
  if not vim.api.nvim_buf_is_loaded(bufnr) then
    return
  end
  M.clear(bufnr)
  if params.done then
    return
  end
  local client = require("diffill.lsp").client(bufnr)
  local encoding = client and client.offset_encoding or "utf-16"
  local start_row, start_col = positions.to_byte(bufnr, params.range.start, encoding)
  local end_row, end_col = positions.to_byte(bufnr, params.range["end"], encoding)
  local steps = type(params.steps) == "number" and ("/" .. params.steps) or "" -- null: unknown
  local lines = {}
  for i, line in ipairs(vim.split(params.text, "\n", { plain = true })) do
    local label = i == 1 and ("diffill %d%s "):format(params.step, steps) or ""
    lines[i] = { { label, "DiffillPreviewLabel" }, { line, "DiffillPreview" } }
  end
  vim.api.nvim_buf_set_extmark(bufnr, M.ns, start_row, start_col, {
    end_row = end_row,
    end_col = end_col,
    hl_group = "DiffillPreviewSpan",
    strict = false,
  })
  -- Below the span's last line: where the result will land in the reader's eye.
  vim.api.nvim_buf_set_extmark(bufnr, M.ns, end_row, 0, { virt_lines = lines, strict = false })
end

--- Remove any preview from `bufnr`.
---@param bufnr integer
function M.clear(bufnr)
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  end
end

return M
