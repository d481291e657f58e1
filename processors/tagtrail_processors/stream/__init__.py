"""The Kafka shell around the decision core: consume, checkpoint in one transaction, restore state.

`processor_service` runs the loop; `transaction_checkpoint` owns the commit order; `state_store`
restores item state from the changelog."""
