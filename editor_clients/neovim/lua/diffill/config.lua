---@mod diffill.config The plugin's options: defaults, merging and validation.

---@class diffill.Keymaps
---@field fill string|false      normal and visual mode: :DiffillFill
---@field rewrite string|false   visual mode: :DiffillRewrite
---@field fix string|false       normal mode: :DiffillFix
---@field accept string|false    normal mode: :DiffillAccept
---@field reject string|false    normal mode: :DiffillReject
---@field cancel string|false    normal mode: :DiffillCancel

---@class diffill.Config
---@field cmd string[]             how to start the Language Server
---@field filetypes string[]       buffers the server attaches to
---@field root_markers string[]    files that mark a project root (none found: single-file mode)
---@field settings table           the server's `diffill` settings section (camelCase keys)
---@field confirm boolean          show a result as a proposal to accept or reject
---@field preview boolean          draw the span while it denoises (`diffill/preview`)
---@field inline_completion boolean  ghost-text completion (Neovim >= 0.12)
---@field keymaps boolean|diffill.Keymaps  false: none; true: the defaults below

local M = {}

---@type diffill.Keymaps
M.default_keymaps = {
  fill = "<leader>df",
  rewrite = "<leader>dr",
  fix = "<leader>dx",
  accept = "<leader>da",
  reject = "<leader>dd",
  cancel = "<C-c>",
}

---@type diffill.Config
M.defaults = {
  cmd = { "diffill", "serve" },
  filetypes = { "python", "javascript", "typescript", "typescriptreact", "go", "rust", "java" },
  root_markers = { "pyproject.toml", "package.json", "go.mod", "Cargo.toml", ".git" },
  settings = {},
  confirm = true,
  preview = true,
  inline_completion = false,
  keymaps = false,
}

---@type diffill.Config
M.current = vim.deepcopy(M.defaults)

---@param name string
---@return fun(v: any): boolean, string?
local function list_of_strings(name)
  return function(v)
    if type(v) ~= "table" or not vim.islist(v) then
      return false, name .. " must be a list of strings"
    end
    for i, item in ipairs(v) do
      if type(item) ~= "string" or item == "" then
        return false, ("%s[%d] must be a non-empty string"):format(name, i)
      end
    end
    return true
  end
end

---@param keymaps boolean|table
---@return boolean, string?
local function valid_keymaps(keymaps)
  if type(keymaps) == "boolean" then
    return true
  end
  if type(keymaps) ~= "table" then
    return false, "keymaps must be true, false or a table of lhs strings"
  end
  for key, lhs in pairs(keymaps) do
    if M.default_keymaps[key] == nil then
      local known = table.concat(vim.tbl_keys(M.default_keymaps), ", ")
      return false, ("keymaps.%s is not one of %s"):format(tostring(key), known)
    end
    if lhs ~= false and (type(lhs) ~= "string" or lhs == "") then
      return false, ("keymaps.%s must be a key sequence or false"):format(key)
    end
  end
  return true
end

--- Merge `user` over the defaults and check every field; errors name the bad option.
---@param user table?
---@return diffill.Config
function M.resolve(user)
  vim.validate("opts", user, "table", true)
  user = user or {}
  for key in pairs(user) do
    if M.defaults[key] == nil then
      local known = table.concat(vim.tbl_keys(M.defaults), ", ")
      error(("diffill: unknown option %q (options: %s)"):format(tostring(key), known), 0)
    end
  end
  -- Lists replace the default list instead of merging index by index.
  local merged = vim.tbl_extend("force", vim.deepcopy(M.defaults), user)
  local ok, err = pcall(function()
    vim.validate("cmd", merged.cmd, list_of_strings("cmd"))
    vim.validate("filetypes", merged.filetypes, list_of_strings("filetypes"))
    vim.validate("root_markers", merged.root_markers, list_of_strings("root_markers"))
    vim.validate("settings", merged.settings, "table")
    vim.validate("confirm", merged.confirm, "boolean")
    vim.validate("preview", merged.preview, "boolean")
    vim.validate("inline_completion", merged.inline_completion, "boolean")
    vim.validate("keymaps", merged.keymaps, valid_keymaps)
  end)
  if not ok then
    error("diffill: invalid option: " .. tostring(err), 0)
  end
  if #merged.cmd == 0 then
    error("diffill: invalid option: cmd must name the server program, e.g. { 'diffill', 'serve' }", 0)
  end
  if merged.keymaps == true then
    merged.keymaps = vim.deepcopy(M.default_keymaps)
  elseif type(merged.keymaps) == "table" then
    merged.keymaps = vim.tbl_extend("force", vim.deepcopy(M.default_keymaps), merged.keymaps)
  end
  return merged
end

return M
