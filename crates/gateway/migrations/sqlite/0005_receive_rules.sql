-- issue 17: a user's locale (for devices that registered none) and receive rules (receive
-- options per peer, per group and global, and a do-not-disturb window), kept as the JSON the API
-- takes (pushway-core's ReceiveRules): the accept path reads them with the settings row, in the
-- same query, and the renderer needs them whole. NULL = never set.
ALTER TABLE user_settings ADD COLUMN locale TEXT;
ALTER TABLE user_settings ADD COLUMN receive TEXT;
