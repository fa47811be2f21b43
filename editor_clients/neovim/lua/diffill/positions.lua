---@mod diffill.positions LSP positions (in the client's encoding) as buffer byte positions.

local M = {}

--- The 0-based row and byte column of an LSP position in `bufnr`.
---@param bufnr integer
---@param position lsp.Position
---@param encoding 'utf-8'|'utf-16'|'utf-32'
---@return integer row, integer col
function M.to_byte(bufnr, position, encoding)
  local row = position.line
  local last = vim.api.nvim_buf_line_count(bufnr) - 1
  if row > last then
    -- A position past the last line means the end of the buffer (LSP allows it).
    return last, #(vim.api.nvim_buf_get_lines(bufnr, last, last + 1, false)[1] or "")
  end
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
  if encoding == "utf-8" then
    return row, math.min(position.character, #line)
  end
  return row, vim.str_byteindex(line, encoding, position.character, false)
end

--- The LSP position of a 0-based row and byte column of `bufnr`.
---@param bufnr integer
---@param row integer
---@param col integer
---@param encoding 'utf-8'|'utf-16'|'utf-32'
---@return lsp.Position
function M.from_byte(bufnr, row, col, encoding)
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
  col = math.min(col, #line)
  if encoding == "utf-8" then
    return { line = row, character = col }
  end
  return { line = row, character = vim.str_utfindex(line, encoding, col, false) }
end

--- The LSP range a command's range stands for: the last charwise Visual selection when
--- the command was given exactly its lines, else whole lines `line1`..`line2` (1-based).
---@param bufnr integer
---@param line1 integer
---@param line2 integer
---@param encoding 'utf-8'|'utf-16'|'utf-32'
---@return lsp.Range
function M.command_range(bufnr, line1, line2, encoding)
  local first = vim.api.nvim_buf_get_mark(bufnr, "<")
  local last = vim.api.nvim_buf_get_mark(bufnr, ">")
  if vim.fn.visualmode() == "v" and first[1] == line1 and last[1] == line2 then
    local line = vim.api.nvim_buf_get_lines(bufnr, line2 - 1, line2, false)[1] or ""
    local end_col = math.min(last[2], #line)
    if end_col < #line and vim.o.selection ~= "exclusive" then
      -- An inclusive selection ends after the last selected character, whatever its width.
      end_col = end_col + 1 + vim.str_utf_end(line, end_col + 1)
    end
    return {
      start = M.from_byte(bufnr, line1 - 1, first[2], encoding),
      ["end"] = M.from_byte(bufnr, line2 - 1, end_col, encoding),
    }
  end
  return M.line_range(bufnr, line1, line2, encoding)
end

--- The LSP range of whole lines `line1`..`line2` (1-based), without the last line break.
---@param bufnr integer
---@param line1 integer
---@param line2 integer
---@param encoding 'utf-8'|'utf-16'|'utf-32'
---@return lsp.Range
function M.line_range(bufnr, line1, line2, encoding)
  return {
    start = { line = line1 - 1, character = 0 },
    ["end"] = M.from_byte(bufnr, line2 - 1, math.huge, encoding),
  }
end

--- The zero-width LSP range at the cursor of the current window.
---@param bufnr integer
---@param encoding 'utf-8'|'utf-16'|'utf-32'
---@return lsp.Range
function M.cursor_range(bufnr, encoding)
  local cursor = vim.api.nvim_win_get_cursor(0)
  local at = M.from_byte(bufnr, cursor[1] - 1, cursor[2], encoding)
  return { start = at, ["end"] = at }
end

return M
