//! The native API's view of a connection.

use super::ConnectionDetail;
use xc_types::api::ConnectionView;

impl ConnectionDetail {
    pub fn to_view(&self) -> ConnectionView {
        let c = &self.connection;
        ConnectionView {
            id: c.id.clone(),
            arn: self.arn.clone(),
            shared_id: c.shared_id,
            state: c.state,
            state_reason: c.state_reason.clone(),
            description: c.description.to_string(),
            bandwidth: c.bandwidth,
            pending_bandwidth: c.pending_bandwidth,
            environment_id: c.environment.to_string(),
            provider: self.environment.provider.name().to_owned(),
            location: self.environment.location.clone(),
            product_type: self.environment.product_type,
            owner_account: c.owner.clone(),
            attach_point: c.owner_attach_point,
            remote_account: Some(
                c.remote_account
                    .as_ref()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| c.grant.allowed.clone()),
            ),
            remote_attach_point: c.remote_attach_point,
            initiator: c.initiator,
            your_side: if self.caller_is_owner {
                xc_types::gateway::Side::Owner
            } else {
                xc_types::gateway::Side::Remote
            },
            activation_key: self.activation_key.clone(),
            activation_key_expires_at: self.activation_key.as_ref().map(|_| c.grant.expires_at),
            billing_tier: c.billing_tier,
            routing_policy: c.owner_routing.clone(),
            remote_routing_policy: c.remote_routing.clone(),
            link_liveness: c.link_liveness.unwrap_or(xc_types::LinkLiveness::DEFAULT),
            tags: c.tags.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
            last_mile: c.last_mile.as_ref().map(Into::into),
        }
    }
}
