//! Rules and policies as the API and the gateway's configuration receive them: JSON into
//! security group rules, network ACL rules and whole policies, which then compile.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xc_types::filter::{AclRule, FilterPolicy, RuleSpec, SgRule};
use xc_types::SecurityGroupRuleId;

fuzz_target!(|data: &[u8]| {
    if let Ok(spec) = serde_json::from_slice::<RuleSpec>(data) {
        let _ = SgRule::new(&spec, SecurityGroupRuleId::from_random([0; 8]));
        let _ = AclRule::try_from(spec);
    }
    if let Ok(policy) = serde_json::from_slice::<FilterPolicy>(data) {
        let _ = xc_filter::Compiled::new(&policy);
    }
});
