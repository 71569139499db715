-- core.sha256 and core.sha256_file (OpenSSL's EVP SHA-256): the FIPS 180-2
-- test vectors, a 3 MiB file against sha256sum(1), and the refusal of
-- anything that is not a regular file (without blocking on a FIFO).
local core = require "kombo.core"
local files = require "support.files"

local EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
local ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
-- FIPS 180-2, the two-block message.
local LONG_IN = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
local LONG = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"

local function sha256sum(path)
  local p = assert(io.popen("sha256sum " .. files.sh_quote(path)))
  local out = p:read("*a")
  p:close()
  return out:match("^(%x+)")
end

describe("core.sha256", function()
  it("gives the test vectors as 64 lowercase hex digits", function()
    assert.equals(EMPTY, core.sha256(""))
    assert.equals(ABC, core.sha256("abc"))
    assert.equals(LONG, core.sha256(LONG_IN))
  end)

  it("digests every byte, NULs included", function()
    assert.are_not.equals(core.sha256("a\0b"), core.sha256("a\0c"))
    assert.equals(64, #core.sha256("a\0b"))
  end)

  it("raises on a non-string", function()
    assert.has_error(function() core.sha256({}) end)
  end)
end)

describe("core.sha256_file", function()
  local dir
  before_each(function() dir = files.tmpdir() end)
  after_each(function() files.rmtree(dir) end)

  it("gives hex and size for the test vectors", function()
    local hex, size = core.sha256_file(files.write(dir .. "/empty", ""))
    assert.equals(EMPTY, hex)
    assert.equals(0, size)
    hex, size = core.sha256_file(files.write(dir .. "/abc", "abc"))
    assert.equals(ABC, hex)
    assert.equals(3, size)
  end)

  it("agrees with sha256sum on a 3 MiB file (many 64 KiB reads, an odd tail)", function()
    local path = files.write(dir .. "/big", files.random_bytes(3 * 1024 * 1024 + 7))
    local hex, size = core.sha256_file(path)
    assert.equals(sha256sum(path), hex)
    assert.equals(3 * 1024 * 1024 + 7, size)
  end)

  it("refuses a FIFO at once, without waiting for a writer", function()
    local path = dir .. "/fifo"
    assert.is_true(files.run("mkfifo " .. files.sh_quote(path)))
    local t0 = core.now()
    local hex, msg = core.sha256_file(path)
    assert.is_nil(hex)
    assert.equals(path .. " is a FIFO (named pipe), not a regular file", msg)
    assert.truthy(core.now() - t0 < 2)
  end)

  it("refuses a character device, a directory and a socket by name", function()
    local hex, msg = core.sha256_file("/dev/null")
    assert.is_nil(hex)
    assert.equals("/dev/null is a character device, not a regular file", msg)
    hex, msg = core.sha256_file(dir)
    assert.is_nil(hex)
    assert.equals(dir .. " is a directory, not a regular file", msg)
    local sock = dir .. "/sock"
    -- A bound Unix socket (luasocket's socket.unix; open() of one fails with ENXIO).
    local unix = require "socket.unix"
    local s = assert(unix.stream())
    assert(s:bind(sock))
    hex, msg = core.sha256_file(sock)
    s:close()
    assert.is_nil(hex)
    assert.equals(sock .. " is a socket, not a regular file", msg)
  end)

  it("says why when the file cannot be opened", function()
    local hex, msg = core.sha256_file(dir .. "/missing")
    assert.is_nil(hex)
    assert.equals(dir .. "/missing cannot be opened: No such file or directory", msg) -- kombo_file_open's words
  end)
end)
