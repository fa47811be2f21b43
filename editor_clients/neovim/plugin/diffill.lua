-- diffill: user commands only; the modules load when a command runs, and the server
-- starts from require("diffill").setup().
if vim.g.loaded_diffill then
  return
end
vim.g.loaded_diffill = true

local command = vim.api.nvim_create_user_command

---@param cmd vim.api.keyset.create_user_command.command_args
---@return lsp.Range?
local function given_range(cmd)
  if cmd.range == 0 then
    return nil
  end
  local bufnr = vim.api.nvim_get_current_buf()
  local client = require("diffill.lsp").client(bufnr)
  local encoding = client and client.offset_encoding or "utf-16"
  return require("diffill.positions").command_range(bufnr, cmd.line1, cmd.line2, encoding)
end

command("DiffillFill", function(cmd)
  require("diffill").fill({ range = given_range(cmd) })
end, { range = true, desc = "diffill: fill the placeholder under the cursor or in the range" })

command("DiffillRewrite", function(cmd)
  local strength = nil
  if cmd.args ~= "" then
    strength = tonumber(cmd.args)
    if not strength or strength <= 0 or strength > 1 then
      return vim.notify("diffill: the strength must be a number in (0, 1], not " .. cmd.args, vim.log.levels.ERROR)
    end
  end
  require("diffill").rewrite({ range = given_range(cmd), strength = strength })
end, { range = true, nargs = "?", desc = "diffill: rewrite the range [strength in (0, 1]]" })

command("DiffillFix", function(cmd)
  require("diffill").fix({ range = given_range(cmd) })
end, { range = true, desc = "diffill: repair the syntax error on the cursor line or in the range" })

command("DiffillAccept", function()
  require("diffill").accept()
end, { desc = "diffill: apply the proposal" })

command("DiffillReject", function()
  require("diffill").reject()
end, { desc = "diffill: discard the proposal" })

command("DiffillCancel", function()
  require("diffill").cancel()
end, { desc = "diffill: cancel the running request" })
