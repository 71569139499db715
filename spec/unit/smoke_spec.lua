describe("kombo", function()
  it("loads the C core", function()
    local kombo = require "kombo"
    assert.equals("0.1.0", kombo.VERSION)
  end)
end)
