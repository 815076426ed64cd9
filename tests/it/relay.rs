//! The whole relay end to end: [`Network`](devnet::network::Network) runs
//! fake oxend and storage servers, the APNs and FCM mocks and `app::serve`; clients subscribe
//! through onion requests over real HTTP and devices open what the mocks received.

mod flow;
mod health;
mod privacy;
