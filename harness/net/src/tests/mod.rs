//! Tests with toy endpoints: the driver and the link, exercised without any real protocol.

mod link;
mod props;
mod sim;
mod util;
