-- busted --helper for the valgrind lane (scripts/test, valgrind_pass): fails
-- the run unless this process, the one that runs the specs, is under valgrind
-- memcheck.  A busted that re-executes itself (the `lua` of .busted, when
-- --ignore-lua is missing) runs the specs in an untraced child, and memcheck
-- then reports nothing whatever the C core does.  memcheck preloads its
-- vgpreload library into every process it runs.  A helper, not a check in
-- spec/support: the Lua children some specs start inherit the environment
-- and are deliberately not traced.
local maps = assert(io.open("/proc/self/maps"))
local watched = maps:read("*a"):find("vgpreload_memcheck", 1, true)
maps:close()
if not watched then
  error("the valgrind lane runs specs outside valgrind memcheck"
    .. " (busted re-executed itself under the `lua` of .busted? run it with --ignore-lua)", 0)
end
