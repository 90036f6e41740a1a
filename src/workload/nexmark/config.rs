//! The NEXMark generator's configuration, and what the reference derives from it: event types, event
//! numbers and event timestamps.
//!
//! The fields and their defaults are those of the `nexmark` crate 0.2 (`config.rs`, a Rust port of the
//! Beam/Flink generator), with one difference: `base_time` defaults to 0 instead of the wall clock, so
//! that a stream is the same in every run. The fixed tables (names, cities, states, channels) are the
//! reference's defaults ([`super::event`]); only their lengths enter the arithmetic.

use std::f64::consts::PI;

/// How the event rate varies when `first_rate != next_rate` (the reference's `RateShape`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateShape {
    /// Alternates between the two rates.
    Square,
    /// Follows a sine between the two rates, in `sine_approx_steps` steps.
    Sine,
}

/// The parameters of a NEXMark stream; see the `nexmark` crate's `NexmarkConfig` for each field.
#[derive(Clone, Debug, PartialEq)]
pub struct NexmarkConfig {
    /// How many of the most recent people may sell or bid.
    pub active_people: u64,
    /// How many auctions are open, on average.
    pub in_flight_auctions: u64,
    /// Events are shuffled in groups of this many (1: in order).
    pub out_of_order_group_size: u64,
    /// 1 in this many auctions is not by a hot seller.
    pub hot_seller_ratio: u64,
    /// 1 in this many bids is not on a hot auction.
    pub hot_auction_ratio: u64,
    /// 1 in this many bids is not by a hot bidder.
    pub hot_bidder_ratio: u64,
    /// 1 in this many bids is not on a hot channel.
    pub hot_channel_ratio: u64,
    /// The id of the first event (ids seed each event's random numbers).
    pub first_event_id: u64,
    /// The number of the first event (numbers give event times).
    pub first_event_number: u64,
    /// The event time of the first event, in ms since the Unix epoch.
    pub base_time: u64,
    /// How many categories auctions fall in.
    pub num_categories: u64,
    /// How far ahead of the last auction a bid's auction may be.
    pub auction_id_lead: u64,
    /// People per `person + auction + bid` proportion.
    pub person_proportion: u64,
    /// Auctions per proportion.
    pub auction_proportion: u64,
    /// Bids per proportion.
    pub bid_proportion: u64,
    /// The first auction id.
    pub first_auction_id: u64,
    /// The first person id.
    pub first_person_id: u64,
    /// The first category id.
    pub first_category_id: u64,
    /// How far ahead of the last person a seller or bidder may be.
    pub person_id_lead: u64,
    /// Steps of a sine rate shape.
    pub sine_approx_steps: u64,
    /// Generators the stream is thought split over (the reference's `num_event_generators`).
    pub num_event_generators: u64,
    /// How the rate varies.
    pub rate_shape: RateShape,
    /// The period of the rate's variation, in seconds.
    pub rate_period: u64,
    /// Events per second of event time (first rate).
    pub first_rate: u64,
    /// Events per second of event time (second rate).
    pub next_rate: u64,
    /// Microseconds per rate unit (1,000,000: rates are per second).
    pub us_per_unit: u64,
}

impl Default for NexmarkConfig {
    fn default() -> Self {
        NexmarkConfig {
            active_people: 1000,
            in_flight_auctions: 100,
            out_of_order_group_size: 1,
            hot_seller_ratio: 4,
            hot_auction_ratio: 2,
            hot_bidder_ratio: 4,
            hot_channel_ratio: 2,
            first_event_id: 0,
            first_event_number: 0,
            base_time: 0,
            num_categories: 5,
            auction_id_lead: 10,
            person_proportion: 1,
            auction_proportion: 3,
            bid_proportion: 46,
            first_auction_id: 1000,
            first_person_id: 1000,
            first_category_id: 10,
            person_id_lead: 10,
            sine_approx_steps: 10,
            num_event_generators: 1,
            rate_shape: RateShape::Sine,
            rate_period: 600,
            first_rate: 10_000,
            next_rate: 10_000,
            us_per_unit: 1_000_000,
        }
    }
}

/// What kind an event is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// A new person.
    Person,
    /// A new auction.
    Auction,
    /// A bid.
    Bid,
}

/// A configuration with what the reference derives from it, computed once (the reference's
/// `GeneratorConfig`): every event is then a pure function of it and the event's number.
#[derive(Clone, Debug, PartialEq)]
pub struct Derived {
    /// The configuration.
    pub config: NexmarkConfig,
    /// `person + auction + bid` proportions.
    pub proportion_denominator: u64,
    step_length: u64,
    events_per_epoch: u64,
    epoch_period: f32,
    /// Microseconds between events (one entry per rate step), in `f32` as the reference has them.
    inter_event_delays: Vec<f32>,
    /// How many events an auction's expected length spans (the reference computes it per auction).
    pub events_for_auctions: u64,
}

/// `x.round() as u64` for a non-negative `x`, exactly (half away from zero), without the call to
/// `roundf` that `f32::round` makes where the CPU has no rounding instruction: the integer part and
/// the fraction of an `f32` are both exact.
#[inline]
pub fn round_to_u64(x: f32) -> u64 {
    let whole = x as u64;
    if x - whole as f32 >= 0.5 {
        whole + 1
    } else {
        whole
    }
}

impl From<NexmarkConfig> for Derived {
    fn from(cfg: NexmarkConfig) -> Self {
        let proportion_denominator =
            cfg.person_proportion + cfg.auction_proportion + cfg.bid_proportion;
        let generators = cfg.num_event_generators as f32;
        let rate_to_period = |r: u64| cfg.us_per_unit as f32 / r as f32;
        let mut inter_event_delays = Vec::new();
        if cfg.first_rate == cfg.next_rate {
            inter_event_delays.push(rate_to_period(cfg.first_rate) * generators);
        } else {
            match cfg.rate_shape {
                RateShape::Square => {
                    inter_event_delays.push(rate_to_period(cfg.first_rate) * generators);
                    inter_event_delays.push(rate_to_period(cfg.next_rate) * generators);
                }
                RateShape::Sine => {
                    let mid = (cfg.first_rate + cfg.next_rate) as f64 / 2.0;
                    // As the reference: a usize difference (it panics when next_rate > first_rate).
                    let amp = (cfg.first_rate - cfg.next_rate) as f64 / 2.0;
                    for i in 0..cfg.sine_approx_steps {
                        let r = (2.0 * PI * i as f64) / cfg.sine_approx_steps as f64;
                        let rate = mid + amp * r.cos();
                        inter_event_delays.push(rate_to_period(rate.round() as u64) * generators);
                    }
                }
            }
        }
        let n = match cfg.rate_shape {
            RateShape::Square => 2,
            RateShape::Sine => cfg.sine_approx_steps,
        };
        let step_length = cfg.rate_period.div_ceil(n);
        let mut events_per_epoch = 0;
        let mut epoch_period = 0.0f32;
        if inter_event_delays.len() > 1 {
            for delay in &inter_event_delays {
                let events = (step_length * 1_000_000) as f32 / delay;
                events_per_epoch += events.round() as u64;
                epoch_period += (events * delay) / 1000.0;
            }
        }
        let events_for_auctions =
            (cfg.in_flight_auctions * proportion_denominator) / cfg.auction_proportion;
        Derived {
            events_for_auctions,
            config: cfg,
            proportion_denominator,
            step_length,
            events_per_epoch,
            epoch_period,
            inter_event_delays,
        }
    }
}

impl Derived {
    /// The event time of event number `n`, in ms (the reference's `event_timestamp`, in the same
    /// `f32` arithmetic, so that times agree to the millisecond).
    #[inline]
    pub fn event_timestamp(&self, n: u64) -> u64 {
        let base = self.config.base_time;
        if self.inter_event_delays.len() == 1 {
            return base + round_to_u64((n as f32 * self.inter_event_delays[0]) / 1000.0);
        }
        let epoch = n / self.events_per_epoch;
        let mut event_i = n % self.events_per_epoch;
        let mut offset_in_epoch = 0.0f32;
        for delay in &self.inter_event_delays {
            let events = (self.step_length * 1_000_000) as f32 / delay;
            // The reference compares the group size here, not `event_i`: kept, to give its times.
            if self.config.out_of_order_group_size < events.round() as u64 {
                let offset_in_cycle = event_i as f32 * delay;
                return base
                    + (epoch as f32 * self.epoch_period
                        + offset_in_epoch
                        + offset_in_cycle / 1000.0)
                        .round() as u64;
            }
            event_i = event_i.wrapping_sub(events.round() as u64);
            offset_in_epoch += (events * delay) / 1000.0;
        }
        0
    }

    /// The event number of the `seq`-th event of the stream (events are shuffled within groups of
    /// `out_of_order_group_size`).
    #[inline]
    pub fn event_number(&self, seq: u64) -> u64 {
        let n = self.config.out_of_order_group_size;
        let number = self.config.first_event_number + seq;
        if n == 1 {
            return number;
        }
        (number / n) * n + (number * 953) % n
    }

    /// What kind event number `n` is.
    #[inline]
    pub fn kind(&self, n: u64) -> EventKind {
        let rem = n % self.proportion_denominator;
        let c = &self.config;
        if rem < c.person_proportion {
            EventKind::Person
        } else if rem < c.person_proportion + c.auction_proportion {
            EventKind::Auction
        } else {
            EventKind::Bid
        }
    }

    /// The last person id (from 0) by event id `id`: the new person's, for a person event.
    #[inline]
    pub fn last_person(&self, id: u64) -> u64 {
        let c = &self.config;
        let epoch = id / self.proportion_denominator;
        let offset = (id % self.proportion_denominator).min(c.person_proportion - 1);
        epoch * c.person_proportion + offset
    }

    /// The last auction id (from 0) by event id `id`: the new auction's, for an auction event.
    #[inline]
    pub fn last_auction(&self, id: u64) -> u64 {
        let c = &self.config;
        let mut epoch = id / self.proportion_denominator;
        let mut offset = id % self.proportion_denominator;
        if offset < c.person_proportion {
            epoch = epoch.wrapping_sub(1);
            offset = c.auction_proportion - 1;
        } else if c.person_proportion + c.auction_proportion <= offset {
            offset = c.auction_proportion - 1;
        } else {
            offset -= c.person_proportion;
        }
        epoch
            .wrapping_mul(c.auction_proportion)
            .wrapping_add(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_f32_round() {
        let mut x = 0.0f32;
        let mut checked = 0;
        // Halves, their neighbours, and values spread over 0 to 2^30.
        for i in 0..200_000u32 {
            let half = i as f32 + 0.5;
            for v in [
                half,
                f32::from_bits(half.to_bits() - 1),
                f32::from_bits(half.to_bits() + 1),
            ] {
                assert_eq!(round_to_u64(v), v.round() as u64, "{v}");
            }
            x = x * 1.0001 + 0.37;
            assert_eq!(round_to_u64(x), x.round() as u64, "{x}");
            checked += 1;
        }
        assert_eq!(checked, 200_000);
        assert_eq!(round_to_u64(2.5), 3);
        assert_eq!(round_to_u64(0.49999997), 0);
    }
}
