-- kombo.event_types: kombo.WEBHOOK_EVENTS, the webhook event types Kombo's
-- description lists, by type (its reference is in lua/kombo/webhook.lua),
-- made from the generated list (lua/kombo/gen/webhook_events.lua).  A module
-- of its own so that init.lua can put it on the module without loading
-- kombo.webhook, which the first verify_webhook or webhook_handler loads.
local KNOWN = {}
for _, e in ipairs(require "kombo.gen.webhook_events") do
  KNOWN[e.type] = { data = e.data, deprecated = e.deprecated or nil }
end
return KNOWN
