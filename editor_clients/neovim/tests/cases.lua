-- The Neovim test cases, run by run.lua; each takes the toolkit `t` and raises on failure.
-- Against the stand-in server (tests/lsp_harness.py) a document's `# out: "..."` line is
-- the model's answer and `# slow` keeps it denoising until the gate opens or it is cancelled.

local diffill = require("diffill")
local preview = require("diffill.preview")
local proposal = require("diffill.proposal")

local TODO = '# out: "return a + b"\n\n\ndef add(a, b):\n    # TODO: add them\n    pass\n'
local SLOW = "# slow\n" .. TODO

---@type table<string, fun(t: diffill.test.Toolkit)>
local cases = {}

function cases.invalid_options_are_refused(t)
  local ok, err = pcall(diffill.setup, { confirm = "yes" })
  t.truthy(not ok and tostring(err):find("confirm", 1, true), "a bad `confirm` names the option: " .. tostring(err))
  ok, err = pcall(diffill.setup, { comfirm = true })
  t.truthy(not ok and tostring(err):find('unknown option "comfirm"', 1, true), "a misspelt option is named: " .. tostring(err))
  ok, err = pcall(diffill.setup, { keymaps = { cancle = "<C-c>" } })
  t.truthy(not ok and tostring(err):find("keymaps.cancle", 1, true), "a bad keymap is named: " .. tostring(err))
end

function cases.fill_todo_body(t)
  t.setup({ confirm = false })
  local bufnr = t.open(TODO)
  vim.api.nvim_win_set_cursor(0, { 5, 6 })
  local done = t.request(bufnr, function()
    vim.cmd("DiffillFill")
  end)
  t.eq("applied", done.outcome, "outcome")
  t.eq('# out: "return a + b"\n\n\ndef add(a, b):\n    return a + b\n', t.text(bufnr), "buffer")
end

function cases.rewrite_selection(t)
  t.setup({ confirm = false })
  local bufnr = t.open('# out: "total = a * b"\ndef f(a, b):\n    total = a + b\n    return total\n')
  vim.api.nvim_buf_set_mark(bufnr, "x", 4, 11, {}) -- on "total" in the return line
  vim.cmd("normal! 3G^vg_\27") -- select `total = a + b`, charwise
  local done = t.request(bufnr, function()
    vim.cmd("'<,'>DiffillRewrite 0.5")
  end)
  t.eq("applied", done.outcome, "outcome")
  t.eq('# out: "total = a * b"\ndef f(a, b):\n    total = a * b\n    return total\n', t.text(bufnr), "buffer")
  -- The server's edit replaces one character, so marks elsewhere stay where they were.
  t.eq({ 4, 11 }, vim.api.nvim_buf_get_mark(bufnr, "x"), "mark x")
end

function cases.fix_syntax_error(t)
  t.setup({ confirm = false })
  local bufnr = t.open('# out: "print(x)"\nx = 1\nprint(x\n')
  vim.api.nvim_win_set_cursor(0, { 3, 0 })
  local done = t.request(bufnr, function()
    vim.cmd("DiffillFix")
  end)
  t.eq("applied", done.outcome, "outcome")
  t.eq('# out: "print(x)"\nx = 1\nprint(x)\n', t.text(bufnr), "buffer")
  t.eq({ 3, 0 }, vim.api.nvim_win_get_cursor(0), "cursor")
end

---@return integer bufnr
local function propose(t)
  local bufnr = t.open(TODO)
  vim.api.nvim_win_set_cursor(0, { 6, 4 })
  local done = t.request(bufnr, function()
    vim.cmd("DiffillFill")
  end)
  t.eq("proposed", done.outcome, "outcome")
  t.eq(TODO, t.text(bufnr), "the buffer before accepting")
  t.truthy(t.virtual_text(bufnr, proposal.ns):find("    return a + b", 1, true), "the new text is drawn")
  local removed = vim.tbl_filter(function(mark)
    return mark[4].hl_group == "DiffillRemoved"
  end, t.marks(bufnr, proposal.ns))
  t.truthy(#removed > 0, "the old text is highlighted as removed")
  return bufnr
end

function cases.accept_proposal(t)
  local bufnr = propose(t)
  vim.cmd("DiffillAccept")
  t.eq('# out: "return a + b"\n\n\ndef add(a, b):\n    return a + b\n', t.text(bufnr), "buffer")
  t.eq({}, t.marks(bufnr, proposal.ns), "proposal marks")
end

function cases.reject_proposal(t)
  local bufnr = propose(t)
  vim.cmd("DiffillReject")
  t.eq(TODO, t.text(bufnr), "buffer")
  t.eq({}, t.marks(bufnr, proposal.ns), "proposal marks")
end

function cases.stale_proposal_is_not_applied(t)
  local bufnr = propose(t)
  vim.api.nvim_buf_set_lines(bufnr, 1, 1, false, { "x = 1" })
  t.truthy(not diffill.accept(bufnr), "accept refuses")
  t.eq((TODO:gsub("\n\n", "\nx = 1\n\n", 1)), t.text(bufnr), "buffer")
end

--- Start a fill of the `# slow` document and wait until its preview is drawn.
---@return integer bufnr, integer seen
local function denoising(t)
  local bufnr = t.open(SLOW)
  vim.api.nvim_win_set_cursor(0, { 6, 4 })
  local seen = t.started()
  vim.cmd("DiffillFill")
  t.wait(function()
    return t.virtual_text(bufnr, preview.ns):find("return a + b", 1, true)
  end, "the preview to show the denoised text")
  return bufnr, seen
end

function cases.preview_appears_and_clears(t)
  t.setup({ confirm = false })
  local bufnr, seen = denoising(t)
  t.truthy(#t.marks(bufnr, preview.ns) > 0, "preview extmarks while denoising")
  t.open_gate()
  local done = t.finished(bufnr, seen)
  t.eq("applied", done.outcome, "outcome")
  t.eq({}, t.marks(bufnr, preview.ns), "preview extmarks once done")
end

function cases.cancel_leaves_buffer_untouched(t)
  t.setup({ confirm = false })
  local bufnr, seen = denoising(t)
  local statuses = t.statuses()
  vim.cmd("DiffillCancel")
  t.eq("cancelled", t.finished(bufnr, seen).outcome, "outcome")
  t.idle(statuses) -- the server has stopped denoising
  t.wait(function()
    return #t.marks(bufnr, preview.ns) == 0
  end, "the preview to clear")
  t.eq(SLOW, t.text(bufnr), "buffer")
  t.eq(nil, proposal.proposals[bufnr], "proposal")
end

function cases.edited_buffer_is_not_overwritten(t)
  t.setup({ confirm = false })
  local bufnr, seen = denoising(t)
  vim.api.nvim_buf_set_lines(bufnr, -1, -1, false, { "y = 2" })
  t.open_gate()
  local done = t.finished(bufnr, seen)
  t.eq("stale", done.outcome, "outcome")
  t.eq(SLOW .. "y = 2\n", t.text(bufnr), "buffer")
end

function cases.checkhealth_reports_the_model(t)
  local bufnr = t.open(TODO)
  t.wait(function()
    local status = require("diffill.lsp").status[vim.lsp.get_clients({ bufnr = bufnr, name = "diffill" })[1].id]
    return status and status.model
  end, "diffill/status")
  vim.cmd("checkhealth diffill")
  local report = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
  t.truthy(report:find("model loaded: stand-in", 1, true), "checkhealth names the model:\n" .. report)
  t.truthy(report:find("Neovim 0.", 1, true), "checkhealth names Neovim's version:\n" .. report)
end

function cases.keymaps_only_when_asked(t)
  t.eq("", vim.fn.maparg("<C-c>", "n"), "<C-c> with the default keymaps = false")
  t.setup({ keymaps = { fill = false } })
  t.truthy(vim.fn.maparg("<C-c>", "n"):find("DiffillCancel", 1, true), "<C-c> cancels once keymaps are on")
  t.truthy(vim.fn.maparg("<leader>dx", "n"):find("DiffillFix", 1, true), "the other defaults are mapped")
  t.eq("", vim.fn.maparg("<leader>df", "n"), "a keymap set to false")
end

function cases.inline_completion_is_wired(t)
  if not vim.lsp.inline_completion then
    return -- Neovim 0.11 has no inline completion; nothing to wire
  end
  t.setup({ inline_completion = true })
  local bufnr = t.open(TODO)
  t.truthy(vim.lsp.inline_completion.is_enabled({ bufnr = bufnr }), "inline completion is enabled")
end

function cases.inline_completion_setting_follows_the_option(t)
  local function sent()
    local config = vim.lsp.config.diffill
    return { config.init_options.diffill.inlineCompletion, config.settings.diffill.inlineCompletion }
  end
  -- Off by default: the server then neither answers completions nor warms contexts for them.
  t.eq({ false, false }, sent(), "inlineCompletion with the defaults")
  t.setup({ inline_completion = true })
  t.eq({ true, true }, sent(), "inlineCompletion with inline_completion = true")
  t.setup({ settings = { inlineCompletion = true, warmContext = false } })
  t.eq({ true, true }, sent(), "an inlineCompletion in settings wins")
  t.eq(false, vim.lsp.config.diffill.settings.diffill.warmContext, "warmContext is passed on")
end

-- The real server with the shipped model. What it writes is the model's choice, so the case
-- checks what must hold whatever it is: the request completes without error, and an
-- applied result replaced the TODO body and nothing above it.
function cases.default_model_fills_todo(t)
  -- A fixed step budget bounds the model's work: with the default confidence threshold an
  -- unsure model commits about one token per step, which costs minutes on a busy CPU.
  t.setup({ confirm = false, settings = { steps = 8 } })
  local source = "def add(a, b):\n    # TODO: return the sum of a and b\n    pass\n\n\nprint(add(1, 2))\n"
  local bufnr = t.open(source, "add.py")
  vim.api.nvim_win_set_cursor(0, { 2, 4 })
  local done = t.request(bufnr, function()
    vim.cmd("DiffillFill")
  end)
  t.truthy(done.outcome == "applied" or done.outcome == "unchanged", "outcome " .. done.outcome .. ": " .. tostring(done.reason))
  local after = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  t.eq("def add(a, b):", after[1], "the line above the body")
  t.eq("print(add(1, 2))", after[#after], "the line below it")
  if done.outcome == "applied" then
    t.truthy(not t.text(bufnr):find("# TODO", 1, true), "the TODO body was replaced")
  else
    t.eq(source, t.text(bufnr), "an unchanged result leaves the buffer as it was")
  end
end

return cases
