---@mod diffill.lsp Starting the diffill Language Server and receiving its notifications.

local M = {}

M.name = "diffill"

---@class diffill.Status
---@field model string?   the model's name; nil while it loads
---@field device string?
---@field busy boolean
---@field error string?   why the model did not load

--- The last `diffill/status` of each client, by client id.
---@type table<integer, diffill.Status>
M.status = {}

---@param err table?
---@param params diffill.Status
---@param ctx lsp.HandlerContext
local function on_status(err, params, ctx)
  if err == nil and params then
    M.status[ctx.client_id] = params
    vim.api.nvim_exec_autocmds("User", { pattern = "DiffillStatus", data = params, modeline = false })
  end
end

---@param err table?
---@param params table
local function on_preview(err, params)
  if err == nil and params then
    require("diffill.preview").show(params)
  end
end

--- Register the server with `vim.lsp.config` and enable it for the configured filetypes.
---@param config diffill.Config
function M.start(config)
  -- The server answers inline completion, and warms the context for it after every typing
  -- pause, unless told otherwise: it follows `inline_completion` unless `settings` says.
  local section = vim.tbl_extend("keep", config.settings, { inlineCompletion = config.inline_completion })
  local settings = { diffill = section }
  -- Assigned, not merged: calling setup() again replaces lists such as filetypes.
  vim.lsp.config[M.name] = {
    cmd = config.cmd,
    filetypes = config.filetypes,
    root_markers = config.root_markers,
    -- Both ways in: initializationOptions before the first request, and the answer to
    -- workspace/configuration (Neovim looks the section up in `settings`).
    init_options = settings,
    settings = settings,
    capabilities = { experimental = { diffillPreview = config.preview } },
    handlers = {
      ["diffill/status"] = on_status,
      ["diffill/preview"] = on_preview,
    },
    on_attach = function(_, bufnr)
      -- The options of the latest setup(): a running client outlives the setup that started it.
      if require("diffill.config").current.inline_completion and vim.lsp.inline_completion then
        -- Per buffer: Neovim treats buffers as opted out until enabled, clients as opted in.
        vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
      end
    end,
    on_exit = function(_, _, client_id)
      M.status[client_id] = nil
    end,
  }
  vim.lsp.enable(M.name)
end

--- The diffill client attached to `bufnr`, or nil with the reason.
---@param bufnr integer
---@return vim.lsp.Client?, string?
function M.client(bufnr)
  local client = vim.lsp.get_clients({ bufnr = bufnr, name = M.name })[1]
  if client then
    return client
  end
  if not vim.lsp.config[M.name] then
    return nil, "diffill is not set up: call require('diffill').setup()"
  end
  return nil, ("no diffill server is attached to this buffer (filetype %q)"):format(vim.bo[bufnr].filetype)
end

return M
