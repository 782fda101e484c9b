-- Dead letters (deliveries in state dead) by app in id order: the admin API lists and replays
-- them without reading the live rows. Partial: only dead rows pay for it.
CREATE INDEX deliveries_dead ON deliveries (app_id, id) WHERE state = 'dead';
