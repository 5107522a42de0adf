"""Deploy, invoke, update and delete gs-torchserve SageMaker real-time endpoints with boto3 only."""
