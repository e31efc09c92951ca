// Public types of resnet-napi: the facade's, compiled from src/ into dist/.
export * from './dist/index'
