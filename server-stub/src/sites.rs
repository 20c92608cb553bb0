//! The site registry: every pharmacy and health centre of the real open-data file of
//! 2020-03-22 (DOMAIN.md §5), embedded, with its stock of that day as the opening balance.

use std::collections::HashMap;
use std::sync::Arc;

use crate::open_data::{self, OpenDataError};
use crate::region::{self, Region};

/// The real open-data file, the registry's source.
pub const REGISTRY_CSV: &str = include_str!("../../fixtures/data/maskdata-2020-03-22.csv");

/// One site as registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// 10-character code (not always digits).
    pub code: String,
    /// Name.
    pub name: String,
    /// Address.
    pub address: String,
    /// Phone.
    pub phone: String,
    /// Opening stock, adult masks.
    pub opening_adult: i64,
    /// Opening stock, child masks.
    pub opening_child: i64,
    /// County and district, derived from the address ([`crate::region`]).
    pub region: Region,
}

/// All sites, in file order, with lookup by code.
#[derive(Clone, Debug)]
pub struct Registry {
    sites: Arc<Vec<Site>>,
    by_code: Arc<HashMap<String, usize>>,
}

impl Registry {
    /// The embedded registry (5,600 sites).
    pub fn embedded() -> Result<Self, OpenDataError> {
        let file = open_data::parse(REGISTRY_CSV.as_bytes())?;
        let regions = region::regions(file.rows.iter().map(|r| r.address.as_str()));
        let sites = file
            .rows
            .into_iter()
            .zip(regions)
            .map(|(r, region)| Site {
                code: r.code,
                name: r.name,
                address: r.address,
                phone: r.phone,
                opening_adult: r.adult,
                opening_child: r.child,
                region,
            })
            .collect();
        Ok(Self::new(sites))
    }

    /// A registry from sites (for tests).
    pub fn new(sites: Vec<Site>) -> Self {
        let by_code = sites
            .iter()
            .enumerate()
            .map(|(i, s)| (s.code.clone(), i))
            .collect();
        Self {
            sites: Arc::new(sites),
            by_code: Arc::new(by_code),
        }
    }

    /// Looks a site up by code.
    pub fn get(&self, code: &str) -> Option<&Site> {
        self.by_code.get(code).and_then(|&i| self.sites.get(i))
    }

    /// All sites in registry order.
    pub fn all(&self) -> &[Site] {
        &self.sites
    }
}
