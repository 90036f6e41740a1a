//! Purchases in a shop: a customer buys a product for an amount.
//!
//! Line format: `CUSTOMER,PRODUCT,AMOUNT`, for example `17,204,12.50` (the amount in currency units).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{field, fields, mix, Workload};
use crate::parse::FromLine;

/// One purchase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Purchase {
    /// Position in the generated stream (0 for purchases read from text).
    pub seq: u64,
    /// Who bought.
    pub customer: u32,
    /// What was bought.
    pub product: u32,
    /// The price, in cents.
    pub cents: u64,
}

impl fmt::Display for Purchase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{},{},{}.{:02}",
            self.customer,
            self.product,
            self.cents / 100,
            self.cents % 100
        )
    }
}

impl FromLine for Purchase {
    fn from_line(line: &str) -> Result<Self, String> {
        let mut it = fields(line);
        let customer = field(it.next(), "customer")?;
        let product = field(it.next(), "product")?;
        let amount = it.next().ok_or("missing field `amount`")?;
        let (units, cents) = amount.split_once('.').unwrap_or((amount, "0"));
        let bad = || format!("field `amount` is not a price: `{amount}`");
        let units: u64 = units.parse().map_err(|_| bad())?;
        let cents: u64 = match cents.len() {
            1 => cents.parse::<u64>().map_err(|_| bad())? * 10,
            2 => cents.parse().map_err(|_| bad())?,
            _ => return Err(bad()),
        };
        Ok(Purchase {
            seq: 0,
            customer,
            product,
            cents: units * 100 + cents,
        })
    }
}

/// Purchases by `customers` customers of `products` products, from 1 to 200.
#[derive(Clone, Debug)]
pub struct Purchases {
    /// How many customers there are.
    pub customers: u32,
    /// How many products there are.
    pub products: u32,
    /// The stream's seed.
    pub seed: u64,
}

impl Default for Purchases {
    fn default() -> Self {
        Purchases {
            customers: 10_000,
            products: 1_000,
            seed: 1,
        }
    }
}

impl Workload for Purchases {
    type Record = Purchase;

    #[inline]
    fn record(&self, seq: u64) -> Purchase {
        let r = mix(self.seed, seq);
        Purchase {
            seq,
            customer: (r % self.customers as u64) as u32,
            product: ((r >> 24) % self.products as u64) as u32,
            cents: 100 + (r >> 40) % 19_900,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_prints() {
        let w = Purchases::default();
        for seq in 0..20 {
            let p = w.record(seq);
            assert_eq!(
                Purchase {
                    seq,
                    ..Purchase::from_line(&p.to_string()).unwrap()
                },
                p
            );
        }
        assert_eq!(Purchase::from_line("1,2,3.5").unwrap().cents, 350);
        assert!(Purchase::from_line("1,2,3.555")
            .unwrap_err()
            .contains("3.555"));
    }
}
